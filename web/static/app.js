// hubshare owner pages: copy buttons and confirmations. Loaded from this
// origin only (the pages forbid inline scripts); every page works without it.
(function () {
  'use strict';

  function flash(button, text) {
    var label = button.getAttribute('data-label') || button.textContent;
    button.setAttribute('data-label', label);
    button.textContent = text;
    button.classList.add('copied');
    window.clearTimeout(button._copyTimer);
    button._copyTimer = window.setTimeout(function () {
      button.textContent = label;
      button.classList.remove('copied');
    }, 2000);
  }

  // Older browsers, and pages served over plain HTTP, have no async clipboard.
  function fallbackCopy(input, button) {
    input.focus();
    input.select();
    input.setSelectionRange(0, input.value.length);
    var ok = false;
    try {
      ok = document.execCommand('copy');
    } catch (e) {
      ok = false;
    }
    flash(button, ok ? 'Copied' : 'Press Ctrl+C');
  }

  document.addEventListener('click', function (ev) {
    var button = ev.target.closest ? ev.target.closest('[data-copy]') : null;
    if (!button) {
      return;
    }
    var input = document.getElementById(button.getAttribute('data-copy'));
    if (!input) {
      return;
    }
    ev.preventDefault();
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(function () {
        flash(button, 'Copied');
      }, function () {
        fallbackCopy(input, button);
      });
    } else {
      fallbackCopy(input, button);
    }
  });

  // A click into a link field selects all of it, ready to copy by hand.
  document.addEventListener('focusin', function (ev) {
    var t = ev.target;
    if (t && t.tagName === 'INPUT' && t.readOnly) {
      t.select();
    }
  });

  // Forms that revoke, rotate or delete ask first.
  document.addEventListener('submit', function (ev) {
    var form = ev.target;
    var question = form && form.getAttribute ? form.getAttribute('data-confirm') : null;
    if (question && !window.confirm(question)) {
      ev.preventDefault();
    }
  });
})();
