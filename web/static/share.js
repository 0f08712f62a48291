// hubshare owner pages: times in the viewer's own zone, and filter boxes
// over long pickers. Loaded from this origin only; without it every page
// still works, with times in UTC (as the labels then say) and full lists.
(function () {
  'use strict';

  function pad(n) {
    return (n < 10 ? '0' : '') + n;
  }

  // A Date as a datetime-local value, in local time.
  function localValue(d) {
    return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) +
      'T' + pad(d.getHours()) + ':' + pad(d.getMinutes());
  }

  var zone = '';
  try {
    zone = Intl.DateTimeFormat().resolvedOptions().timeZone || '';
  } catch (e) {
    zone = '';
  }

  function localize(root) {
    // <time datetime="…Z" data-local>2 Jan 2026 15:04 UTC</time>
    root.querySelectorAll('time[data-local]').forEach(function (el) {
      var d = new Date(el.getAttribute('datetime'));
      if (isNaN(d.getTime())) {
        return;
      }
      el.title = el.textContent;
      el.textContent = d.toLocaleString(undefined, {
        day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit'
      });
    });
    // Fields whose value the server wrote in UTC.
    root.querySelectorAll('input[type="datetime-local"][data-utc]').forEach(function (input) {
      var v = input.getAttribute('data-utc');
      if (!v) {
        return;
      }
      var d = new Date(v + 'Z');
      if (!isNaN(d.getTime())) {
        input.value = localValue(d);
      }
    });
    // Labels that said "(UTC)" now say whose time it is.
    root.querySelectorAll('[data-tz]').forEach(function (el) {
      el.textContent = zone ? '(your time, ' + zone + ')' : '(your time)';
    });
  }

  // On submit, a form with a datetime-local field says the viewer's offset
  // from UTC at that date (minutes east), so the server stores the instant meant.
  document.addEventListener('submit', function (ev) {
    var form = ev.target;
    if (!form || !form.querySelector) {
      return;
    }
    var offset = form.querySelector('input[name="tz_offset"]');
    var input = form.querySelector('input[type="datetime-local"]');
    if (!offset || !input) {
      return;
    }
    offset.value = '';
    if (input.value) {
      var d = new Date(input.value);
      if (!isNaN(d.getTime())) {
        offset.value = String(-d.getTimezoneOffset());
      }
    }
  }, true);

  // Typing a date on the share panel picks "On a date".
  document.addEventListener('input', function (ev) {
    var t = ev.target;
    if (t && t.getAttribute && t.getAttribute('data-preset') === 'date' && t.value && t.form) {
      var radio = t.form.querySelector('input[name="expires_in"][value="date"]');
      if (radio) {
        radio.checked = true;
      }
    }
  });

  // A filter box over a select: typing hides the options that do not match.
  function setupFilter(box) {
    var select = document.getElementById(box.getAttribute('data-filter'));
    if (!select) {
      return;
    }
    var wrap = box.closest('.picker-filter');
    if (wrap) {
      wrap.hidden = false;
    }
    box.addEventListener('input', function () {
      var q = box.value.trim().toLowerCase();
      var shown = 0;
      Array.prototype.forEach.call(select.options, function (opt) {
        if (opt.value === '') {
          return;
        }
        var match = q === '' || opt.textContent.toLowerCase().indexOf(q) !== -1;
        opt.hidden = !match;
        if (match) {
          shown++;
        } else if (opt.selected) {
          opt.selected = false;
        }
      });
      select.querySelectorAll('optgroup').forEach(function (g) {
        g.hidden = !Array.prototype.some.call(g.children, function (o) {
          return !o.hidden;
        });
      });
      select.setAttribute('data-shown', String(shown));
      // One match left: pick it, so Enter submits it.
      if (shown === 1) {
        Array.prototype.forEach.call(select.options, function (opt) {
          if (!opt.hidden && opt.value !== '') {
            opt.selected = true;
          }
        });
      }
    });
  }

  function init() {
    localize(document);
    document.querySelectorAll('input[data-filter]').forEach(setupFilter);
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', init);
  } else {
    init();
  }
})();
