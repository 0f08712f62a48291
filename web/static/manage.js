// Asks before a delete with a dialog; without script the server asks with a
// page of its own. Forms opt in with data-confirm.
(function () {
  'use strict';
  document.addEventListener('submit', function (ev) {
    var form = ev.target;
    if (!form.matches || !form.matches('form[data-confirm]')) return;
    if (!window.confirm(form.getAttribute('data-confirm'))) {
      ev.preventDefault();
      return;
    }
    var yes = form.querySelector('input[name=confirm]');
    if (!yes) {
      yes = document.createElement('input');
      yes.type = 'hidden';
      yes.name = 'confirm';
      form.appendChild(yes);
    }
    yes.value = 'yes';
  });
})();
