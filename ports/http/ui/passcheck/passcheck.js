// The configuration page of the "Wallet pass?" split. It runs in Journey Builder's iframe and talks to it through
// Postmonger, through what it shares with pushupdate's page (../journey.js).
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

  var J = window.passpushJourney;
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

  var form = document.getElementById('activity-form');
  var pass = J.passFields(form);
  var identifier = pass.identifier;
  var example = document.getElementById('example');

  var journey = J.connect({
    init: function (activity) {
      var execute = (activity.arguments && activity.arguments.execute) || {};
      pass.fill(parseInArguments(execute.inArguments));
      showBindings(typeof activity.key === 'string' ? activity.key : '');
      clearError();
      journey.connection.trigger('updateButton', { button: 'next', text: 'done', visible: true, enabled: true });
    },
    inArguments: function () { return J.passInArguments(pass.read()); }
  });
  // One step: Next is Done.
  journey.connection.on('clickedNext', save);

  function save() {
    var config = pass.read();
    if (!config.identifier) {
      setError('Enter the ' + pass.noun(config.identifierType) + ' to find the pass by: a data binding or a fixed value.');
      identifier.focus();
      return;
    }
    journey.save(J.passInArguments(config));
  }

  // parseInArguments reads a saved configuration the way execute does: the objects merged in order, then the
  // most specific identifier, at the top level or under "identifiers".
  function parseInArguments(list) {
    var merged = J.mergeInArguments(list).merged;
    var config = J.identifierOf(merged);
    config.passType = J.text(merged.passType);
    return config;
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

  // ---- wiring ----

  pass.onTypeChange(journey.markDirty);
  form.addEventListener('input', function (e) {
    journey.markDirty();
    if (e.target === identifier) { clearError(); }
  });
  // Enter in a field must not close the modal: only Journey Builder's buttons move on.
  form.addEventListener('submit', function (e) { e.preventDefault(); });
  document.getElementById('copy-example').addEventListener('click', copyExample);

  showBranches();
  showBindings('');
  journey.start();
}());
