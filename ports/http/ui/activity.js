// The configuration page of the "Update wallet pass" activity. It runs in Journey Builder's iframe and talks to
// it through Postmonger.
//
// What it saves, in arguments.execute.inArguments, is an array of single-key objects that execute reads (see
// scheduleCall in ports/http/sfmc.go), in this order:
//
//   {"email" | "customId" | "passId": "<identifier or data binding>"}   always, exactly one
//   {"passType": "<pass type>"}                                          when set
//   {"<field>": "<value or data binding>"}                               one per field to change
//   {"message": "<lock-screen text>"}                                    when set
//
// A field is an inArgument of its own rather than part of an additionalData JSON string: Journey Builder
// substitutes a data binding's value into the string as it is, so a value holding a quote would break the JSON.
// That is why a field may not be named like one of the other keys.
(function () {
  'use strict';

  // Identifier keys, the most specific first: execute prefers them in this order.
  var IDENTIFIERS = ['passId', 'customId', 'email'];
  var IDENTIFIER_LABELS = { email: 'Email', customId: 'Custom ID', passId: 'Pass ID' };
  var IDENTIFIER_NOUNS = { email: 'email address', customId: 'custom ID', passId: 'pass ID' };
  var IDENTIFIER_PLACEHOLDERS = {
    email: '{{InteractionDefaults.Email}}',
    customId: '{{Contact.Attribute.Loyalty.MemberId}}',
    passId: '{{Contact.Attribute.Wallet.PassId}}'
  };
  // Keys that execute does not read as field updates.
  var RESERVED = ['passId', 'customId', 'email', 'identifiers', 'passType', 'additionalData', 'message'];
  var MAX_MESSAGE = 1000;
  // Bindings that every journey offers, whatever its entry source.
  var ALWAYS_BINDABLE = [
    { value: '{{InteractionDefaults.Email}}', label: 'Default email address' },
    { value: '{{Contact.Key}}', label: 'Contact key' }
  ];

  // Postmonger talks only to the window that framed the page, and only at that window's origin: the default
  // ("*") would post the activity to whatever page framed this one and take messages from any origin. The
  // origin is the parent's as the browser reports it (location.ancestorOrigins where there is one, else the
  // referrer Journey Builder's frame navigation sends); without either, the page talks to no one but itself.
  var parentOrigin = window.passpushJourney.origin();
  var connection = new Postmonger.Session({ connect: window.parent, from: parentOrigin, to: parentOrigin });
  var activity = {};
  var step = 'pass';
  var dirty = false;
  var rowCount = 0;

  var form = document.getElementById('activity-form');
  var identifier = document.getElementById('identifier');
  var passType = document.getElementById('pass-type');
  var message = document.getElementById('message');
  var fields = document.getElementById('fields');
  var rowTemplate = document.getElementById('field-row');

  // ---- Journey Builder ----

  // What Journey Builder told us beyond the activity; kept for troubleshooting in the browser console. The page
  // never asks for SFMC tokens: it has no use for them, and what it doesn't hold can't leak.
  var received = { endpoints: null, schema: null };
  window.passpushActivity = { received: received, parentOrigin: parentOrigin, inArguments: function () { return inArguments(readForm()); } };

  connection.on('initActivity', initActivity);
  connection.on('requestedEndpoints', function (endpoints) { received.endpoints = endpoints; });
  connection.on('requestedSchema', function (payload) {
    received.schema = payload && payload.schema;
    offerBindings(received.schema);
  });
  connection.on('clickedNext', next);
  connection.on('clickedBack', function () { showStep('pass'); });
  connection.on('gotoStep', function (s) { if (s && (s.key === 'pass' || s.key === 'update')) { showStep(s.key); } });

  function initActivity(payload) {
    activity = payload && typeof payload === 'object' ? payload : {};
    var execute = (activity.arguments && activity.arguments.execute) || {};
    fill(parseInArguments(execute.inArguments));
    clearErrors();
    dirty = false;
    showStep('pass');
  }

  function next() {
    if (step === 'pass') {
      if (validate(readForm(), 'pass')) {
        showStep('update');
      }
      return;
    }
    save();
  }

  function save() {
    var config = readForm();
    if (!validate(config, null)) {
      return false;
    }
    activity.arguments = activity.arguments || {};
    activity.arguments.execute = activity.arguments.execute || {};
    activity.arguments.execute.inArguments = inArguments(config);
    activity.metaData = activity.metaData || {};
    activity.metaData.isConfigured = true;
    connection.trigger('updateActivity', activity);
    dirty = false;
    return true;
  }

  function markDirty() {
    if (!dirty) {
      dirty = true;
      connection.trigger('setActivityDirtyState', true);
    }
  }

  // ---- inArguments <-> configuration ----

  function text(v) {
    if (typeof v === 'string') { return v; }
    if (typeof v === 'number' || typeof v === 'boolean') { return String(v); }
    return '';
  }

  // parseInArguments reads a saved configuration the way execute does: the objects merged in order, the most
  // specific identifier, additionalData (an object or a JSON string) winning over a field of the same name.
  function parseInArguments(list) {
    var merged = {};
    var order = [];
    (Array.isArray(list) ? list : []).forEach(function (obj) {
      if (!obj || typeof obj !== 'object') { return; }
      Object.keys(obj).forEach(function (k) {
        if (!Object.prototype.hasOwnProperty.call(merged, k)) { order.push(k); }
        merged[k] = obj[k];
      });
    });
    var nested = merged.identifiers && typeof merged.identifiers === 'object' ? merged.identifiers : {};
    var config = { identifierType: 'email', identifier: '', passType: text(merged.passType), fields: [], message: text(merged.message) };
    for (var i = 0; i < IDENTIFIERS.length; i++) {
      var v = text(merged[IDENTIFIERS[i]]) || text(nested[IDENTIFIERS[i]]);
      if (v) {
        config.identifierType = IDENTIFIERS[i];
        config.identifier = v;
        break;
      }
    }
    var byKey = {};
    function put(k, v) {
      if (Object.prototype.hasOwnProperty.call(byKey, k)) {
        byKey[k].value = v;
      } else {
        byKey[k] = { key: k, value: v };
        config.fields.push(byKey[k]);
      }
    }
    order.forEach(function (k) {
      if (RESERVED.indexOf(k) < 0 && typeof merged[k] === 'string') { put(k, merged[k]); }
    });
    var extra = merged.additionalData;
    if (typeof extra === 'string') {
      try { extra = extra.trim() ? JSON.parse(extra) : null; } catch (e) { extra = null; }
    }
    if (extra && typeof extra === 'object' && !Array.isArray(extra)) {
      Object.keys(extra).forEach(function (k) { put(k, text(extra[k])); });
    }
    return config;
  }

  function inArguments(config) {
    var args = [];
    var id = {};
    id[config.identifierType] = config.identifier;
    args.push(id);
    if (config.passType) { args.push({ passType: config.passType }); }
    config.fields.forEach(function (f) {
      var o = {};
      o[f.key] = f.value;
      args.push(o);
    });
    if (config.message) { args.push({ message: config.message }); }
    return args;
  }

  // ---- the form ----

  function fill(config) {
    var radio = document.getElementById('identifier-type-' + config.identifierType);
    radio.checked = true;
    identifierTypeChanged();
    identifier.value = config.identifier;
    passType.value = config.passType;
    message.value = config.message;
    fields.textContent = '';
    config.fields.forEach(function (f) { addRow(f.key, f.value); });
    showNoFields();
  }

  function readForm() {
    var checked = form.querySelector('input[name="identifierType"]:checked');
    return {
      identifierType: checked ? checked.value : 'email',
      identifier: identifier.value.trim(),
      passType: passType.value.trim(),
      fields: rows().map(function (row) {
        return { key: row.querySelector('.field-key').value.trim(), value: row.querySelector('.field-value').value.trim() };
      }),
      message: message.value.trim()
    };
  }

  function rows() {
    return Array.prototype.slice.call(fields.querySelectorAll('.field-row'));
  }

  function addRow(key, value) {
    rowCount++;
    var row = rowTemplate.content.firstElementChild.cloneNode(true);
    var keyInput = row.querySelector('.field-key');
    var valueInput = row.querySelector('.field-value');
    var error = row.querySelector('.field-key-error');
    keyInput.id = 'field-key-' + rowCount;
    valueInput.id = 'field-value-' + rowCount;
    error.id = keyInput.id + '-error';
    keyInput.setAttribute('aria-describedby', error.id);
    keyInput.value = key || '';
    valueInput.value = value || '';
    row.querySelector('.field-remove').addEventListener('click', function () {
      row.remove();
      markDirty();
      showNoFields();
      revalidateKeys();
    });
    fields.appendChild(row);
    numberRows();
    return row;
  }

  function numberRows() {
    rows().forEach(function (row, i) {
      row.querySelector('.field-key').setAttribute('aria-label', 'Pass field, row ' + (i + 1));
      row.querySelector('.field-value').setAttribute('aria-label', 'New value, row ' + (i + 1));
      row.querySelector('.field-remove').setAttribute('aria-label', 'Remove row ' + (i + 1));
    });
  }

  function showNoFields() {
    document.getElementById('no-fields').hidden = rows().length > 0;
    numberRows();
  }

  function identifierTypeChanged() {
    var checked = form.querySelector('input[name="identifierType"]:checked');
    var type = checked ? checked.value : 'email';
    document.getElementById('identifier-label').textContent = IDENTIFIER_LABELS[type];
    identifier.placeholder = IDENTIFIER_PLACEHOLDERS[type];
  }

  function showStep(name) {
    step = name;
    Array.prototype.forEach.call(document.querySelectorAll('[data-step]'), function (section) {
      section.hidden = section.getAttribute('data-step') !== name;
    });
    Array.prototype.forEach.call(document.querySelectorAll('[data-step-tab]'), function (tab) {
      var active = tab.getAttribute('data-step-tab') === name;
      tab.classList.toggle('slds-is-active', active);
      tab.querySelector('a').setAttribute('aria-selected', String(active));
    });
    connection.trigger('updateButton', { button: 'next', text: name === 'pass' ? 'next' : 'done', visible: true, enabled: true });
    connection.trigger('updateButton', { button: 'back', visible: name !== 'pass' });
  }

  // ---- validation ----

  // validate shows every error of the configuration next to its input. With only = 'pass' it checks the first
  // step alone. On an error it shows the step that holds the first one and focuses its input, unless quiet.
  function validate(config, only, quiet) {
    clearErrors();
    var errors = [];
    if (!config.identifier) {
      errors.push({ step: 'pass', input: identifier, message: 'Enter the ' + IDENTIFIER_NOUNS[config.identifierType] + ' to find the passes by: a data binding or a fixed value.' });
    }
    if (only !== 'pass') {
      var seen = {};
      rows().forEach(function (row, i) {
        var key = config.fields[i].key;
        var input = row.querySelector('.field-key');
        if (!key) {
          errors.push({ step: 'update', input: input, message: 'Enter the pass field to change, or remove this row.' });
        } else if (RESERVED.indexOf(key) >= 0) {
          errors.push({ step: 'update', input: input, message: '"' + key + '" is reserved for the activity itself; use another field name.' });
        } else if (Object.prototype.hasOwnProperty.call(seen, key)) {
          errors.push({ step: 'update', input: input, message: '"' + key + '" is already changed in row ' + (seen[key] + 1) + '.' });
        } else {
          seen[key] = i;
        }
      });
      if (config.message.length > MAX_MESSAGE) {
        errors.push({ step: 'update', input: message, message: 'The message is longer than ' + MAX_MESSAGE + ' characters.' });
      }
    }
    errors.forEach(function (e) { setError(e.input, e.message); });
    if (errors.length > 0 && !quiet) {
      showStep(errors[0].step);
      errors[0].input.focus();
      say(errors.length === 1 ? '1 error to fix' : errors.length + ' errors to fix');
    }
    return errors.length === 0;
  }

  function setError(input, text) {
    var element = input.closest('.slds-form-element');
    element.classList.add('slds-has-error');
    input.setAttribute('aria-invalid', 'true');
    document.getElementById(input.id + '-error').textContent = text;
  }

  function clearError(input) {
    var element = input.closest('.slds-form-element');
    element.classList.remove('slds-has-error');
    input.removeAttribute('aria-invalid');
    var help = document.getElementById(input.id + '-error');
    if (help) { help.textContent = ''; }
  }

  function clearErrors() {
    Array.prototype.forEach.call(form.querySelectorAll('[aria-invalid]'), clearError);
    say('');
  }

  // After an attempt showed key errors, fixing or removing a row rechecks the keys.
  function revalidateKeys() {
    if (form.querySelector('.field-key[aria-invalid]')) {
      validate(readForm(), null, true);
    }
  }

  function say(text) {
    document.getElementById('status').textContent = text;
  }

  // ---- bindings offered by the entry source ----

  function offerBindings(schema) {
    window.passpushJourney.offerBindings(document.getElementById('bindings'), ALWAYS_BINDABLE, schema);
  }

  // ---- wiring ----

  Array.prototype.forEach.call(form.querySelectorAll('input[name="identifierType"]'), function (radio) {
    radio.addEventListener('change', function () { identifierTypeChanged(); markDirty(); });
  });
  form.addEventListener('input', function (e) {
    markDirty();
    if (e.target.getAttribute('aria-invalid')) {
      clearError(e.target);
      if (e.target.classList.contains('field-key')) { revalidateKeys(); }
    }
  });
  // Enter in a field must not close the modal: only Journey Builder's buttons move on.
  form.addEventListener('submit', function (e) { e.preventDefault(); });
  document.getElementById('add-field').addEventListener('click', function () {
    var row = addRow('', '');
    showNoFields();
    markDirty();
    row.querySelector('.field-key').focus();
  });
  Array.prototype.forEach.call(document.querySelectorAll('[data-step-tab] a'), function (link) {
    link.addEventListener('click', function (e) {
      e.preventDefault();
      showStep(link.parentNode.getAttribute('data-step-tab'));
    });
  });

  offerBindings([]);
  showNoFields();
  connection.trigger('ready');
  connection.trigger('requestEndpoints');
  connection.trigger('requestSchema');
}());
