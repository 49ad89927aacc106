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

  var J = window.passpushJourney;
  // Keys that execute does not read as field updates.
  var RESERVED = ['passId', 'customId', 'email', 'identifiers', 'passType', 'additionalData', 'message'];
  var MAX_MESSAGE = 1000;

  var step = 'pass';
  var rowCount = 0;

  var form = document.getElementById('activity-form');
  var pass = J.passFields(form);
  var identifier = pass.identifier;
  var message = document.getElementById('message');
  var fields = document.getElementById('fields');
  var rowTemplate = document.getElementById('field-row');

  // ---- Journey Builder ----

  var journey = J.connect({
    init: function (activity) {
      var execute = (activity.arguments && activity.arguments.execute) || {};
      fill(parseInArguments(execute.inArguments));
      clearErrors();
      showStep('pass');
    },
    inArguments: function () { return inArguments(readForm()); }
  });
  journey.connection.on('clickedNext', next);
  journey.connection.on('clickedBack', function () { showStep('pass'); });
  journey.connection.on('gotoStep', function (s) { if (s && (s.key === 'pass' || s.key === 'update')) { showStep(s.key); } });

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
    journey.save(inArguments(config));
    return true;
  }

  // ---- inArguments <-> configuration ----

  // parseInArguments reads a saved configuration the way execute does: the objects merged in order, the most
  // specific identifier, additionalData (an object or a JSON string) winning over a field of the same name.
  function parseInArguments(list) {
    var m = J.mergeInArguments(list);
    var merged = m.merged;
    var config = J.identifierOf(merged);
    config.passType = J.text(merged.passType);
    config.fields = [];
    config.message = J.text(merged.message);
    var byKey = {};
    function put(k, v) {
      if (Object.prototype.hasOwnProperty.call(byKey, k)) {
        byKey[k].value = v;
      } else {
        byKey[k] = { key: k, value: v };
        config.fields.push(byKey[k]);
      }
    }
    m.order.forEach(function (k) {
      if (RESERVED.indexOf(k) < 0 && typeof merged[k] === 'string') { put(k, merged[k]); }
    });
    var extra = merged.additionalData;
    if (typeof extra === 'string') {
      try { extra = extra.trim() ? JSON.parse(extra) : null; } catch (e) { extra = null; }
    }
    if (extra && typeof extra === 'object' && !Array.isArray(extra)) {
      Object.keys(extra).forEach(function (k) { put(k, J.text(extra[k])); });
    }
    return config;
  }

  function inArguments(config) {
    var args = J.passInArguments(config);
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
    pass.fill(config);
    message.value = config.message;
    fields.textContent = '';
    config.fields.forEach(function (f) { addRow(f.key, f.value); });
    showNoFields();
  }

  function readForm() {
    var config = pass.read();
    config.fields = rows().map(function (row) {
      return { key: row.querySelector('.field-key').value.trim(), value: row.querySelector('.field-value').value.trim() };
    });
    config.message = message.value.trim();
    return config;
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
      journey.markDirty();
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
    journey.connection.trigger('updateButton', { button: 'next', text: name === 'pass' ? 'next' : 'done', visible: true, enabled: true });
    journey.connection.trigger('updateButton', { button: 'back', visible: name !== 'pass' });
  }

  // ---- validation ----

  // validate shows every error of the configuration next to its input. With only = 'pass' it checks the first
  // step alone. On an error it shows the step that holds the first one and focuses its input, unless quiet.
  function validate(config, only, quiet) {
    clearErrors();
    var errors = [];
    if (!config.identifier) {
      errors.push({ step: 'pass', input: identifier, message: 'Enter the ' + pass.noun(config.identifierType) + ' to find the passes by: a data binding or a fixed value.' });
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

  // ---- wiring ----

  pass.onTypeChange(journey.markDirty);
  form.addEventListener('input', function (e) {
    journey.markDirty();
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
    journey.markDirty();
    row.querySelector('.field-key').focus();
  });
  Array.prototype.forEach.call(document.querySelectorAll('[data-step-tab] a'), function (link) {
    link.addEventListener('click', function (e) {
      e.preventDefault();
      showStep(link.parentNode.getAttribute('data-step-tab'));
    });
  });

  showNoFields();
  journey.start();
}());
