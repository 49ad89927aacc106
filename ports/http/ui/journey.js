// journey.js is what both configuration pages (pushupdate's and the passcheck split's) share: the Journey Builder
// frame they run in (the origin their Postmonger session is pinned to, the activity it hands over and takes back,
// the entry source's fields offered as data bindings), and the identifier a pass is found by, which both
// activities' execute read alike. Loaded before each page's own script.
window.passpushJourney = (function () {
  'use strict';

  // origin is Journey Builder's origin: the frame's parent, from location.ancestorOrigins, else the referrer of
  // the frame's navigation, else the page's own (a test opened directly). Never '*'.
  function origin() {
    var ancestors = window.location.ancestorOrigins;
    if (ancestors && ancestors.length > 0 && ancestors[0] !== 'null') {
      return ancestors[0];
    }
    try {
      var referrer = new URL(document.referrer).origin;
      if (referrer && referrer !== 'null') {
        return referrer;
      }
    } catch (e) { /* no referrer */ }
    return window.location.origin;
  }

  // offerBindings fills the datalist with the bindings that always exist, then with the entry source's fields.
  function offerBindings(list, always, schema) {
    list.textContent = '';
    var seen = {};
    function option(value, label) {
      if (seen[value]) { return; }
      seen[value] = true;
      var o = document.createElement('option');
      o.value = value;
      o.label = label;
      list.appendChild(o);
    }
    always.forEach(function (b) { option(b.value, b.label); });
    (Array.isArray(schema) ? schema : []).forEach(function (field) {
      if (field && typeof field.key === 'string' && field.key) {
        option('{{' + field.key + '}}', (field.name || field.key) + (field.type ? ' (' + field.type + ')' : ''));
      }
    });
  }

  // Identifier keys, the most specific first: execute prefers them in this order.
  var IDENTIFIERS = ['passId', 'customId', 'email'];
  var IDENTIFIER_LABELS = { email: 'Email', customId: 'Custom ID', passId: 'Pass ID' };
  var IDENTIFIER_NOUNS = { email: 'email address', customId: 'custom ID', passId: 'pass ID' };
  var IDENTIFIER_PLACEHOLDERS = {
    email: '{{InteractionDefaults.Email}}',
    customId: '{{Contact.Attribute.Loyalty.MemberId}}',
    passId: '{{Contact.Attribute.Wallet.PassId}}'
  };
  // Bindings that every journey offers, whatever its entry source.
  var ALWAYS_BINDABLE = [
    { value: '{{InteractionDefaults.Email}}', label: 'Default email address' },
    { value: '{{Contact.Key}}', label: 'Contact key' }
  ];

  // text is v as execute reads it: a string, or a number or boolean written as one; anything else is empty.
  function text(v) {
    if (typeof v === 'string') { return v; }
    if (typeof v === 'number' || typeof v === 'boolean') { return String(v); }
    return '';
  }

  // mergeInArguments merges the inArguments' objects in order, as execute does: a later key wins. order is the
  // keys in the order they first appear.
  function mergeInArguments(list) {
    var merged = {};
    var order = [];
    (Array.isArray(list) ? list : []).forEach(function (obj) {
      if (!obj || typeof obj !== 'object') { return; }
      Object.keys(obj).forEach(function (k) {
        if (!Object.prototype.hasOwnProperty.call(merged, k)) { order.push(k); }
        merged[k] = obj[k];
      });
    });
    return { merged: merged, order: order };
  }

  // identifierOf is the most specific identifier of merged inArguments, at the top level or under
  // "identifiers", as execute picks it; email and empty when there is none.
  function identifierOf(merged) {
    var nested = merged.identifiers && typeof merged.identifiers === 'object' ? merged.identifiers : {};
    for (var i = 0; i < IDENTIFIERS.length; i++) {
      var v = text(merged[IDENTIFIERS[i]]) || text(nested[IDENTIFIERS[i]]);
      if (v) {
        return { identifierType: IDENTIFIERS[i], identifier: v };
      }
    }
    return { identifierType: 'email', identifier: '' };
  }

  // passInArguments are the inArguments that find the pass: the identifier, then the pass type when set.
  function passInArguments(config) {
    var id = {};
    id[config.identifierType] = config.identifier;
    var args = [id];
    if (config.passType) { args.push({ passType: config.passType }); }
    return args;
  }

  // passFields are a page's identifier radios, identifier and pass type inputs (the ids both pages use).
  function passFields(form) {
    var identifier = document.getElementById('identifier');
    var passType = document.getElementById('pass-type');
    function identifierType() {
      var checked = form.querySelector('input[name="identifierType"]:checked');
      return checked ? checked.value : 'email';
    }
    // identifierTypeChanged labels the identifier input after the radio checked.
    function identifierTypeChanged() {
      var type = identifierType();
      document.getElementById('identifier-label').textContent = IDENTIFIER_LABELS[type];
      identifier.placeholder = IDENTIFIER_PLACEHOLDERS[type];
    }
    return {
      identifier: identifier,
      fill: function (config) {
        document.getElementById('identifier-type-' + config.identifierType).checked = true;
        identifierTypeChanged();
        identifier.value = config.identifier;
        passType.value = config.passType;
      },
      read: function () {
        return { identifierType: identifierType(), identifier: identifier.value.trim(), passType: passType.value.trim() };
      },
      // noun names an identifier type in a sentence.
      noun: function (type) { return IDENTIFIER_NOUNS[type]; },
      onTypeChange: function (changed) {
        Array.prototype.forEach.call(form.querySelectorAll('input[name="identifierType"]'), function (radio) {
          radio.addEventListener('change', function () { identifierTypeChanged(); changed(); });
        });
      }
    };
  }

  // connect opens the page's Postmonger session with Journey Builder and returns what the page saves through.
  // page.init(activity) fills the form from the activity Journey Builder hands over, and page.inArguments()
  // gives the form's inArguments (for troubleshooting in the browser console, with what Journey Builder told
  // the page besides; the page never asks for SFMC tokens: it has no use for them, and what it doesn't hold
  // can't leak).
  //
  // Postmonger talks only to the window that framed the page, and only at that window's origin: the default
  // ("*") would post the activity to whatever page framed this one and take messages from any origin.
  function connect(page) {
    var parentOrigin = origin();
    var connection = new Postmonger.Session({ connect: window.parent, from: parentOrigin, to: parentOrigin });
    var activity = {};
    var dirty = false;
    var received = { endpoints: null, schema: null };
    var bindings = document.getElementById('bindings');
    window.passpushActivity = { received: received, parentOrigin: parentOrigin, inArguments: page.inArguments };

    connection.on('initActivity', function (payload) {
      activity = payload && typeof payload === 'object' ? payload : {};
      page.init(activity);
      dirty = false;
    });
    connection.on('requestedEndpoints', function (endpoints) { received.endpoints = endpoints; });
    connection.on('requestedSchema', function (payload) {
      received.schema = payload && payload.schema;
      offerBindings(bindings, ALWAYS_BINDABLE, received.schema);
    });
    return {
      connection: connection,
      // save hands the activity back to Journey Builder with inArguments, configured; the rest goes back as it came.
      save: function (inArguments) {
        activity.arguments = activity.arguments || {};
        activity.arguments.execute = activity.arguments.execute || {};
        activity.arguments.execute.inArguments = inArguments;
        activity.metaData = activity.metaData || {};
        activity.metaData.isConfigured = true;
        connection.trigger('updateActivity', activity);
        dirty = false;
      },
      markDirty: function () {
        if (!dirty) {
          dirty = true;
          connection.trigger('setActivityDirtyState', true);
        }
      },
      // start offers the bindings every journey has and asks Journey Builder for the activity, once the page's
      // handlers are in place.
      start: function () {
        offerBindings(bindings, ALWAYS_BINDABLE, []);
        connection.trigger('ready');
        connection.trigger('requestEndpoints');
        connection.trigger('requestSchema');
      }
    };
  }

  return {
    origin: origin,
    text: text,
    mergeInArguments: mergeInArguments,
    identifierOf: identifierOf,
    passInArguments: passInArguments,
    passFields: passFields,
    connect: connect
  };
}());
