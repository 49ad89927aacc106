// The configuration page of the "Wallet pass?" split. It runs in Journey Builder's iframe and talks to it through
// Postmonger, as pushupdate's page does (see ../activity.js for why Postmonger is pinned to the parent's origin).
//
// What it saves, in arguments.execute.inArguments, is what the split's execute reads, in this order:
//
//   {"email" | "customId" | "passId": "<identifier or data binding>"}   always, exactly one
//   {"passType": "<pass type>"}                                          when set
//
// Everything else in the activity (its key, outcomes, outArguments, URLs) is Journey Builder's and goes back as
// it came.
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
  // The split's outcomes, as config.json declares them.
  var BRANCHES = [
    { key: 'installed', label: 'Pass in a wallet', when: 'A pass of the contact is in Apple Wallet or Google Wallet.' },
    { key: 'not_installed', label: 'Pass not in a wallet', when: 'The contact has a pass, in no wallet yet.' },
    { key: 'no_pass', label: 'No pass', when: 'No pass matches; the data below is empty.' }
  ];
  // The split's outArguments, all text.
  var OUT_ARGUMENTS = [
    { name: 'passId', what: 'The pass (the first by pass ID when several match)' },
    { name: 'appleInstalled', what: '"true" when a device has it in Apple Wallet, else "false"' },
    { name: 'googleInstalled', what: '"true" when it is saved in Google Wallet, else "false"' },
    { name: 'appleLink', what: 'A signed link that adds it to Apple Wallet' },
    { name: 'googleLink', what: 'A signed link that adds it to Google Wallet' }
  ];
  var KEY_PLACEHOLDER = '<activity key>';
  var ALWAYS_BINDABLE = [
    { value: '{{InteractionDefaults.Email}}', label: 'Default email address' },
    { value: '{{Contact.Key}}', label: 'Contact key' }
  ];

  var parentOrigin = window.passpushJourney.origin();
  var connection = new Postmonger.Session({ connect: window.parent, from: parentOrigin, to: parentOrigin });
  var activity = {};
  var dirty = false;

  var form = document.getElementById('activity-form');
  var identifier = document.getElementById('identifier');
  var passType = document.getElementById('pass-type');
  var example = document.getElementById('example');

  var received = { endpoints: null, schema: null };
  window.passpushActivity = { received: received, parentOrigin: parentOrigin, inArguments: function () { return inArguments(readForm()); } };

  connection.on('initActivity', initActivity);
  connection.on('requestedEndpoints', function (endpoints) { received.endpoints = endpoints; });
  connection.on('requestedSchema', function (payload) {
    received.schema = payload && payload.schema;
    offerBindings(received.schema);
  });
  // One step: Next is Done.
  connection.on('clickedNext', save);

  function initActivity(payload) {
    activity = payload && typeof payload === 'object' ? payload : {};
    var execute = (activity.arguments && activity.arguments.execute) || {};
    fill(parseInArguments(execute.inArguments));
    showBindings(typeof activity.key === 'string' ? activity.key : '');
    clearError();
    dirty = false;
    connection.trigger('updateButton', { button: 'next', text: 'done', visible: true, enabled: true });
  }

  function save() {
    var config = readForm();
    if (!config.identifier) {
      setError('Enter the ' + IDENTIFIER_NOUNS[config.identifierType] + ' to find the pass by: a data binding or a fixed value.');
      identifier.focus();
      return;
    }
    activity.arguments = activity.arguments || {};
    activity.arguments.execute = activity.arguments.execute || {};
    activity.arguments.execute.inArguments = inArguments(config);
    activity.metaData = activity.metaData || {};
    activity.metaData.isConfigured = true;
    connection.trigger('updateActivity', activity);
    dirty = false;
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

  // parseInArguments reads a saved configuration the way execute does: the objects merged in order, then the
  // most specific identifier, at the top level or under "identifiers".
  function parseInArguments(list) {
    var merged = {};
    (Array.isArray(list) ? list : []).forEach(function (obj) {
      if (obj && typeof obj === 'object') {
        Object.keys(obj).forEach(function (k) { merged[k] = obj[k]; });
      }
    });
    var nested = merged.identifiers && typeof merged.identifiers === 'object' ? merged.identifiers : {};
    var config = { identifierType: 'email', identifier: '', passType: text(merged.passType) };
    for (var i = 0; i < IDENTIFIERS.length; i++) {
      var v = text(merged[IDENTIFIERS[i]]) || text(nested[IDENTIFIERS[i]]);
      if (v) {
        config.identifierType = IDENTIFIERS[i];
        config.identifier = v;
        break;
      }
    }
    return config;
  }

  function inArguments(config) {
    var id = {};
    id[config.identifierType] = config.identifier;
    var args = [id];
    if (config.passType) { args.push({ passType: config.passType }); }
    return args;
  }

  // ---- the form ----

  function fill(config) {
    document.getElementById('identifier-type-' + config.identifierType).checked = true;
    identifierTypeChanged();
    identifier.value = config.identifier;
    passType.value = config.passType;
  }

  function readForm() {
    var checked = form.querySelector('input[name="identifierType"]:checked');
    return { identifierType: checked ? checked.value : 'email', identifier: identifier.value.trim(), passType: passType.value.trim() };
  }

  function identifierTypeChanged() {
    var checked = form.querySelector('input[name="identifierType"]:checked');
    var type = checked ? checked.value : 'email';
    document.getElementById('identifier-label').textContent = IDENTIFIER_LABELS[type];
    identifier.placeholder = IDENTIFIER_PLACEHOLDERS[type];
  }

  function setError(message) {
    identifier.closest('.slds-form-element').classList.add('slds-has-error');
    identifier.setAttribute('aria-invalid', 'true');
    document.getElementById('identifier-error').textContent = message;
    say('1 error to fix');
  }

  function clearError() {
    identifier.closest('.slds-form-element').classList.remove('slds-has-error');
    identifier.removeAttribute('aria-invalid');
    document.getElementById('identifier-error').textContent = '';
  }

  function say(message) {
    document.getElementById('status').textContent = message;
  }

  // ---- what the split offers later activities ----

  function binding(key, name) {
    return '{{Interaction.' + (key || KEY_PLACEHOLDER) + '.' + name + '}}';
  }

  function cell(row, tag, content, className) {
    var c = document.createElement(tag);
    if (tag === 'th') { c.scope = 'row'; }
    if (className) { c.className = className; }
    c.textContent = content;
    row.appendChild(c);
    return c;
  }

  function showBranches() {
    var list = document.getElementById('branches');
    list.textContent = '';
    BRANCHES.forEach(function (b) {
      var item = document.createElement('li');
      item.className = 'branch';
      item.setAttribute('data-branch', b.key);
      var label = document.createElement('strong');
      label.className = 'branch-label';
      label.textContent = b.label;
      var when = document.createElement('span');
      when.className = 'slds-text-body_small slds-text-color_weak';
      when.textContent = b.when;
      item.appendChild(label);
      item.appendChild(when);
      list.appendChild(item);
    });
  }

  // showBindings names the outArguments as a later activity binds them. The activity key is Journey Builder's
  // (it is in the activity it hands the page); before the journey is saved there may be none yet.
  function showBindings(key) {
    var body = document.querySelector('#out-arguments tbody');
    body.textContent = '';
    OUT_ARGUMENTS.forEach(function (o) {
      var row = document.createElement('tr');
      row.setAttribute('data-out-argument', o.name);
      var code = document.createElement('code');
      code.textContent = binding(key, o.name);
      cell(row, 'th', '').appendChild(code);
      cell(row, 'td', o.what);
      body.appendChild(row);
    });
    example.value = '<a href="' + binding(key, 'appleLink') + '">Add to Apple Wallet</a>';
    document.getElementById('key-hint').textContent = key
      ? 'This activity\'s key is ' + key + '.'
      : 'Replace ' + KEY_PLACEHOLDER + ' with this activity\'s key, which Journey Builder shows once the journey is saved.';
  }

  // copyExample copies the example to the clipboard; where the frame may not write to it, the text is selected
  // so that Ctrl+C copies it.
  function copyExample() {
    example.focus();
    example.select();
    var done = function () { say('Example copied'); };
    var manual = function () {
      example.select();
      say(document.execCommand && document.execCommand('copy') ? 'Example copied' : 'Press Ctrl+C to copy the example');
    };
    if (navigator.clipboard && navigator.clipboard.writeText && clipboardAllowed()) {
      navigator.clipboard.writeText(example.value).then(done, manual);
    } else {
      manual();
    }
  }

  // clipboardAllowed says whether the frame may use the Clipboard API: Journey Builder's iframe may not grant
  // clipboard-write, and asking regardless logs a policy violation.
  function clipboardAllowed() {
    var policy = document.permissionsPolicy || document.featurePolicy;
    return !policy || !policy.allowsFeature || policy.allowsFeature('clipboard-write');
  }

  function offerBindings(schema) {
    window.passpushJourney.offerBindings(document.getElementById('bindings'), ALWAYS_BINDABLE, schema);
  }

  // ---- wiring ----

  Array.prototype.forEach.call(form.querySelectorAll('input[name="identifierType"]'), function (radio) {
    radio.addEventListener('change', function () { identifierTypeChanged(); markDirty(); });
  });
  form.addEventListener('input', function (e) {
    markDirty();
    if (e.target === identifier) { clearError(); }
  });
  // Enter in a field must not close the modal: only Journey Builder's buttons move on.
  form.addEventListener('submit', function (e) { e.preventDefault(); });
  document.getElementById('copy-example').addEventListener('click', copyExample);

  showBranches();
  showBindings('');
  offerBindings([]);
  connection.trigger('ready');
  connection.trigger('requestEndpoints');
  connection.trigger('requestSchema');
}());
