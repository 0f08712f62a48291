// hubshare guest pages: the album viewer (a modal dialog over the grid),
// arrow keys and swipes on photo pages, times in the reader's own zone, and
// no return from the back/forward cache. Loaded from this origin only (the
// pages forbid inline scripts); every page works without it.
(function () {
  'use strict';

  var root = document.documentElement;

  // A guest page is never shown again from the back/forward cache: the
  // link that opened it may have been withdrawn since. A page put in that
  // cache hides itself, and one restored from it asks the server again.
  window.addEventListener('pagehide', function (ev) {
    if (ev.persisted) {
      root.classList.add('g-gone');
    }
  });
  window.addEventListener('pageshow', function (ev) {
    if (ev.persisted) {
      root.classList.add('g-gone');
      window.location.reload();
    }
  });

  // Times are sent in UTC; show them in the reader's zone.
  var times = document.querySelectorAll('time[data-local][datetime]');
  for (var t = 0; t < times.length; t++) {
    var d = new Date(times[t].getAttribute('datetime'));
    if (!isNaN(d.getTime())) {
      times[t].title = times[t].textContent;
      times[t].textContent = d.toLocaleString(undefined, {
        weekday: 'short', day: 'numeric', month: 'long', year: 'numeric', hour: '2-digit', minute: '2-digit'
      });
    }
  }

  function modified(ev) {
    return ev.altKey || ev.ctrlKey || ev.metaKey || ev.shiftKey;
  }

  // swipe calls back(-1) or back(+1) for a horizontal swipe on el.
  function swipe(el, back) {
    var x0 = null, y0 = 0;
    el.addEventListener('touchstart', function (ev) {
      if (ev.touches.length !== 1) {
        x0 = null;
        return;
      }
      x0 = ev.touches[0].clientX;
      y0 = ev.touches[0].clientY;
    }, { passive: true });
    el.addEventListener('touchend', function (ev) {
      if (x0 === null || !ev.changedTouches.length) {
        return;
      }
      var dx = ev.changedTouches[0].clientX - x0, dy = ev.changedTouches[0].clientY - y0;
      x0 = null;
      if (Math.abs(dx) > 40 && Math.abs(dx) > 1.5 * Math.abs(dy)) {
        back(dx < 0 ? 1 : -1);
      }
    });
  }

  // The album viewer.
  var grid = document.querySelector('.g-grid');
  var dialog = document.getElementById('viewer');
  if (grid && dialog && typeof dialog.showModal === 'function') {
    var tiles = Array.prototype.slice.call(grid.querySelectorAll('a.g-tile'));
    var stage = dialog.querySelector('.lb-stage');
    var count = dialog.querySelector('.lb-count');
    var caption = dialog.querySelector('.lb-caption');
    var pageLink = dialog.querySelector('.lb-page');
    var prev = dialog.querySelector('.lb-prev');
    var next = dialog.querySelector('.lb-next');
    var closeButton = dialog.querySelector('.lb-close');
    // The large images already asked for, by URL: the next one is fetched
    // ahead, and shown as the very element that loaded it.
    var loaded = {};
    var current = -1;
    var opener = null;

    var image = function (i) {
      var url = tiles[i].getAttribute('data-large');
      var img = loaded[url];
      if (!img) {
        img = new Image();
        img.decoding = 'async';
        img.src = url;
        loaded[url] = img;
      }
      return img;
    };

    var show = function (i) {
      if (i < 0 || i >= tiles.length) {
        return;
      }
      current = i;
      var tile = tiles[i];
      var img = image(i);
      var thumb = tile.querySelector('img');
      img.alt = thumb ? thumb.alt : '';
      img.className = 'lb-img';
      while (stage.firstChild) {
        stage.removeChild(stage.firstChild);
      }
      stage.appendChild(img);
      count.textContent = 'Photo ' + (i + 1) + ' of ' + tiles.length;
      caption.textContent = tile.getAttribute('data-title') || '';
      pageLink.href = tile.getAttribute('href');
      prev.disabled = i === 0;
      next.disabled = i === tiles.length - 1;
      if (document.activeElement && document.activeElement.disabled) {
        (prev.disabled ? next : prev).focus();
        if (document.activeElement.disabled) {
          closeButton.focus();
        }
      }
      if (i + 1 < tiles.length) {
        image(i + 1);
      }
      if (i > 0) {
        image(i - 1);
      }
    };

    var open = function (i, from) {
      opener = from;
      root.classList.add('lb-lock');
      dialog.showModal();
      show(i);
      closeButton.focus();
    };

    var close = function () {
      if (dialog.open) {
        dialog.close();
      }
    };

    dialog.addEventListener('close', function () {
      root.classList.remove('lb-lock');
      current = -1;
      if (opener) {
        opener.focus();
        opener = null;
      }
    });

    grid.addEventListener('click', function (ev) {
      var a = ev.target.closest ? ev.target.closest('a.g-tile') : null;
      if (!a || ev.button !== 0 || modified(ev)) {
        return;
      }
      ev.preventDefault();
      open(tiles.indexOf(a), a);
    });

    prev.addEventListener('click', function () { show(current - 1); });
    next.addEventListener('click', function () { show(current + 1); });
    closeButton.addEventListener('click', close);

    dialog.addEventListener('keydown', function (ev) {
      if (ev.key === 'ArrowLeft' && !modified(ev)) {
        ev.preventDefault();
        show(current - 1);
      } else if (ev.key === 'ArrowRight' && !modified(ev)) {
        ev.preventDefault();
        show(current + 1);
      } else if (ev.key === 'Escape') {
        ev.preventDefault();
        close();
      } else if (ev.key === 'Tab') {
        // Focus stays in the viewer while it is open.
        var stops = [pageLink, closeButton, prev, next].filter(function (el) { return !el.disabled; });
        var at = stops.indexOf(document.activeElement);
        var to = ev.shiftKey ? at - 1 : at + 1;
        if (at < 0 || to < 0 || to >= stops.length) {
          ev.preventDefault();
          stops[ev.shiftKey ? stops.length - 1 : 0].focus();
        }
      }
    });

    swipe(stage, function (step) { show(current + step); });
  }

  // A photo's page: arrow keys and swipes follow its previous and next links.
  var pager = document.querySelector('.g-pager');
  if (pager) {
    var follow = function (rel) {
      var a = pager.querySelector('a[rel=' + rel + ']');
      if (a) {
        window.location.href = a.href;
      }
    };
    document.addEventListener('keydown', function (ev) {
      var tag = ev.target && ev.target.tagName;
      if (modified(ev) || tag === 'INPUT' || tag === 'TEXTAREA' || tag === 'SELECT') {
        return;
      }
      if (ev.key === 'ArrowLeft') {
        follow('prev');
      } else if (ev.key === 'ArrowRight') {
        follow('next');
      }
    });
    var figure = document.querySelector('.g-figure');
    if (figure) {
      swipe(figure, function (step) { follow(step > 0 ? 'next' : 'prev'); });
    }
  }
})();
