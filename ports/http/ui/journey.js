// journey.js is what both configuration pages (pushupdate's and the passcheck split's) need of the Journey
// Builder frame they run in: the origin their Postmonger session is pinned to, and the entry source's fields
// offered as data bindings. Loaded before each page's own script.
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

  return { origin: origin, offerBindings: offerBindings };
}());
