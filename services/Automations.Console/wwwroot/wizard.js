// The New automation wizard's little script. Without it every section shows and the form works the same (the server
// checks everything again); with it: only the sections of the chosen event and action show, the job version list shows
// the chosen job's versions, JSON fields say where they stop being JSON as you type, `$` in the payload offers the team's
// secret names and the variables, the example buttons fill the editor without a round trip, and the preview follows
// the edits (the live preview below).
// Listeners sit on the document once: the framework's enhanced navigation patches the page without re-running scripts.
(function () {
  'use strict';
  function wizard() { return document.getElementById('new-automation'); }
  function inWizard(el) { return el && el.closest && el.closest('#new-automation'); }

  function sync() {
    var f = wizard();
    if (!f) return;
    var ev = (f.querySelector('#event-type') || {}).value;
    var checked = f.querySelector('input[type=radio][name$="ActionType"]:checked');
    var act = checked ? checked.value : '';
    f.querySelectorAll('[data-event]').forEach(function (e) { e.hidden = e.getAttribute('data-event').split(' ').indexOf(ev) < 0; });
    f.querySelectorAll('[data-action]').forEach(function (e) { e.hidden = e.getAttribute('data-action') !== act; });
    var job = f.querySelector('#job'), ver = f.querySelector('#job-version');
    if (job && ver) {
      ver.querySelectorAll('optgroup').forEach(function (g) { var mine = g.getAttribute('data-job') === job.value; g.hidden = !mine; g.disabled = !mine; });
      var opt = ver.selectedOptions[0];
      if (!opt || !opt.value || opt.parentNode.getAttribute('data-job') !== job.value) {
        var first = null;
        ver.querySelectorAll('optgroup').forEach(function (g) { if (!first && g.getAttribute('data-job') === job.value) first = g.querySelector('option'); });
        ver.value = first ? first.value : '';
      }
    }
  }

  // An error the server wrote about an earlier value is stale once the field changes: the next post checks again.
  function clearStale(t) {
    var id = t.type === 'radio' ? 'action-type' : t.id;
    var err = id && document.getElementById(id + '-error');
    if (!err) return;
    err.remove();
    t.removeAttribute('aria-invalid');
    t.classList.remove('invalid');
    var d = (t.getAttribute('aria-describedby') || '').split(' ').filter(function (x) { return x && x !== id + '-error'; }).join(' ');
    if (d) t.setAttribute('aria-describedby', d); else t.removeAttribute('aria-describedby');
  }

  // Where a JSON text stops being JSON: {pos, msg}, or null. JSON.parse's messages differ by browser and often carry no position.
  function jsonError(s) {
    var i = 0;
    function fail(m) { throw { pos: i, msg: m }; }
    function ws() { while (i < s.length && ' \t\n\r'.indexOf(s[i]) >= 0) i++; }
    function str() {
      i++;
      for (;;) {
        if (i >= s.length) fail('a string is not closed with "');
        var c = s[i];
        if (c === '"') { i++; return; }
        if (c === '\\') {
          i++;
          if ('"\\/bfnrtu'.indexOf(s[i]) < 0 || i >= s.length) fail('a backslash starts an unknown escape');
          if (s[i] === 'u' && !/^[0-9a-fA-F]{4}$/.test(s.substr(i + 1, 4))) fail('\\u needs four hex digits');
          i += s[i] === 'u' ? 5 : 1;
          continue;
        }
        if (c < ' ') fail('a line break or control character inside a string (write \\n)');
        i++;
      }
    }
    function value() {
      ws();
      if (i >= s.length) fail('a value is missing');
      var c = s[i];
      if (c === '{') {
        i++; ws();
        if (s[i] === '}') { i++; return; }
        for (;;) {
          ws();
          if (s[i] !== '"') fail('expected a property name in "quotes"');
          str(); ws();
          if (s[i] !== ':') fail('expected : after the property name');
          i++; value(); ws();
          if (s[i] === ',') { i++; continue; }
          if (s[i] === '}') { i++; return; }
          fail('expected , or } after the value');
        }
      }
      if (c === '[') {
        i++; ws();
        if (s[i] === ']') { i++; return; }
        for (;;) {
          value(); ws();
          if (s[i] === ',') { i++; continue; }
          if (s[i] === ']') { i++; return; }
          fail('expected , or ] after the value');
        }
      }
      if (c === '"') { str(); return; }
      if (c === '-' || (c >= '0' && c <= '9')) {
        var m = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(s.substr(i, 400));
        if (!m) fail('not a number');
        i += m[0].length; return;
      }
      var words = ['true', 'false', 'null'];
      for (var k = 0; k < words.length; k++) if (s.substr(i, words[k].length) === words[k]) { i += words[k].length; return; }
      fail(c === '$' ? 'a ${…} placeholder goes inside a "string"' : 'unexpected ' + c);
    }
    try {
      value(); ws();
      if (i < s.length) fail('unexpected text after the end of the JSON');
      return null;
    } catch (e) {
      if (e && typeof e.pos === 'number') return e;
      throw e;
    }
  }

  function checkJson(t) {
    var label = t.getAttribute('data-json'), live = document.getElementById(t.id + '-live'), v = t.value, msg = '';
    if (!v.trim()) msg = t.hasAttribute('data-json-optional') ? '' : label + ' is empty: write a JSON document.';
    else {
      var e = jsonError(v);
      if (e) {
        var lines = v.slice(0, e.pos).split('\n');
        msg = label + ' is not valid JSON at line ' + lines.length + ', character ' + (lines[lines.length - 1].length + 1) + ': ' + e.msg + '.';
      }
    }
    if (live && live.textContent !== msg) live.textContent = msg;
    if (msg) t.setAttribute('aria-invalid', 'true'); else t.removeAttribute('aria-invalid');
  }

  // `$` in the payload: a list of the team's secret names (admins) and the variables; Enter or Tab inserts ${NAME}.
  var start = -1, sel = 0, shown = [];
  function box(t) {
    var b = document.getElementById('payload-complete');
    if (!b) {
      b = document.createElement('ul');
      b.id = 'payload-complete'; b.className = 'complete'; b.hidden = true;
      b.setAttribute('role', 'listbox'); b.setAttribute('aria-label', 'Insert a secret or a variable');
      t.parentNode.insertBefore(b, t.nextSibling);
      t.setAttribute('aria-controls', 'payload-complete'); t.setAttribute('aria-autocomplete', 'list');
    }
    return b;
  }
  function close(t) { var b = document.getElementById('payload-complete'); if (b) b.hidden = true; start = -1; if (t) t.removeAttribute('aria-activedescendant'); }
  function render(t) {
    var names = JSON.parse(t.getAttribute('data-complete') || '[]');
    var q = t.value.slice(start + 1, t.selectionStart).replace(/^\{/, '');
    if (t.value[start] !== '$' || t.selectionStart <= start || /[^A-Za-z0-9_]/.test(q)) { close(t); return; }
    shown = names.filter(function (n) { return n.name.toLowerCase().indexOf(q.toLowerCase()) === 0; });
    var b = box(t);
    if (!shown.length) { b.hidden = true; return; }
    if (sel >= shown.length) sel = 0;
    b.textContent = '';
    shown.forEach(function (n, i) {
      var li = document.createElement('li');
      li.id = 'payload-option-' + i; li.setAttribute('role', 'option'); li.setAttribute('data-name', n.name);
      li.textContent = '${' + n.name + '}';
      var k = document.createElement('small'); k.textContent = ' ' + n.kind; li.appendChild(k);
      if (i === sel) { li.setAttribute('aria-selected', 'true'); t.setAttribute('aria-activedescendant', li.id); }
      b.appendChild(li);
    });
    b.hidden = false;
  }
  function insert(t, name) {
    t.setRangeText('${' + name + '}', start, t.selectionStart, 'end');
    close(t); t.focus();
    checkJson(t);
    schedule();
  }

  // The live preview: ~400 ms after the last edit the form goes, with its antiforgery token, to the console's own preview
  // endpoint (same origin, the session's cookie), which asks the Api with the session's key and answers an HTML fragment;
  // the key never reaches the page. Only the newest answer is shown. Without the script the Preview button does it.
  var timer = 0, seq = 0, inflight = null;
  function schedule() {
    var f = wizard();
    if (!f || !f.getAttribute('data-live-preview') || !window.fetch || !window.FormData) return;
    clearTimeout(timer);
    timer = setTimeout(livePreview, 400);
  }
  function livePreview() {
    var f = wizard(), area = document.getElementById('preview-live'), status = document.getElementById('preview-live-status');
    if (!f || !area) return;
    var mine = ++seq;
    if (inflight) inflight.abort();
    inflight = window.AbortController ? new AbortController() : null;
    if (status) status.textContent = 'Updating the preview…';
    fetch(f.getAttribute('data-live-preview'), {
      method: 'POST', body: new FormData(f), credentials: 'same-origin', headers: { 'Accept': 'text/html' },
      signal: inflight ? inflight.signal : undefined
    }).then(function (r) {
      if (!r.ok) throw { status: r.status };
      return r.text();
    }).then(function (html) {
      if (mine !== seq) return;
      area.innerHTML = html;
      if (status) status.textContent = 'Preview updated.';
    }).catch(function (e) {
      if (mine !== seq || (e && e.name === 'AbortError')) return;
      if (status) status.textContent = 'The preview could not be updated' + (e && e.status === 400 ? ' (the form expired: reload the page)' : '') + '; use Preview with this event.';
    });
  }

  // A post (Create, Preview) or a new page makes a pending or unanswered live preview stale: it must not land on the next page.
  function cancelPreview() {
    clearTimeout(timer);
    seq++;
    if (inflight) { inflight.abort(); inflight = null; }
  }
  document.addEventListener('submit', function (e) { if (inWizard(e.target)) cancelPreview(); }, true);

  document.addEventListener('change', function (e) {
    if (!inWizard(e.target)) return;
    if (e.target.type === 'radio' || e.target.tagName === 'SELECT') clearStale(e.target);
    sync();
    schedule();
  });
  document.addEventListener('input', function (e) {
    var t = e.target;
    if (!inWizard(t)) return;
    clearStale(t);
    schedule();
    if (t.hasAttribute('data-json')) checkJson(t);
    if (t.id === 'payload' && t.hasAttribute('data-complete')) {
      var p = t.selectionStart;
      if (start < 0) { if (p > 0 && t.value[p - 1] === '$') { start = p - 1; sel = 0; } else return; }
      render(t);
    }
  });
  document.addEventListener('keydown', function (e) {
    var t = e.target, b = document.getElementById('payload-complete');
    if (!t || t.id !== 'payload' || !b || b.hidden || !shown.length) return;
    if (e.key === 'ArrowDown') { sel = (sel + 1) % shown.length; render(t); e.preventDefault(); }
    else if (e.key === 'ArrowUp') { sel = (sel + shown.length - 1) % shown.length; render(t); e.preventDefault(); }
    else if (e.key === 'Enter' || e.key === 'Tab') { insert(t, shown[sel].name); e.preventDefault(); }
    else if (e.key === 'Escape') { close(t); e.preventDefault(); }
  });
  document.addEventListener('mousedown', function (e) {
    var li = e.target.closest && e.target.closest('#payload-complete li');
    if (!li) return;
    e.preventDefault();
    insert(document.getElementById('payload'), li.getAttribute('data-name'));
  });
  document.addEventListener('focusout', function (e) { if (e.target && e.target.id === 'payload') close(e.target); });
  document.addEventListener('click', function (e) {
    var b = e.target.closest && e.target.closest('[data-example]');
    if (!b || !inWizard(b)) return;
    // The example is in the button: fill the editor here instead of posting the form for it.
    e.preventDefault();
    var t = document.getElementById('payload');
    t.value = b.getAttribute('data-example');
    t.dispatchEvent(new Event('input', { bubbles: true }));
    t.focus();
  });

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', sync); else sync();
  if (window.Blazor && window.Blazor.addEventListener) window.Blazor.addEventListener('enhancedload', function () { cancelPreview(); sync(); });
})();
