// The API keys page's Copy button. Without this script the button stays hidden and the key is selected and copied by
// hand from its read-only field. A listener on the document, and the button shown again after each enhanced page
// load: the framework patches pages without re-running scripts.
(function () {
  'use strict';
  function show() {
    var b = document.getElementById('copy-new-key');
    if (b && navigator.clipboard) b.hidden = false;
  }
  document.addEventListener('click', function (e) {
    var b = e.target && e.target.closest && e.target.closest('#copy-new-key');
    if (!b) return;
    var input = document.getElementById('new-key-value'), status = document.getElementById('copy-new-key-status');
    if (!input) return;
    input.select();
    navigator.clipboard.writeText(input.value).then(
      function () { if (status) status.textContent = 'Copied.'; },
      function () { if (status) status.textContent = 'Copying failed: select the key and copy it.'; });
  });
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', show); else show();
  if (window.Blazor && window.Blazor.addEventListener) window.Blazor.addEventListener('enhancedload', show);
})();
