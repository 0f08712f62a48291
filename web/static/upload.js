// Multi-photo upload with a progress bar and a result per file. The form
// works as a plain multipart form without script; with it, files may also
// be dropped on the drop zone, and each file goes in a request of its own
// (the CSRF token in the X-CSRF-Token header) so that one refused file
// does not hold back the others.
(function () {
  'use strict';
  var form = document.querySelector('form[data-upload]');
  if (!form || !window.FormData || !window.XMLHttpRequest) return;
  var input = form.querySelector('input[type=file]');
  var zone = form.querySelector('[data-drop]');
  var list = form.querySelector('[data-upload-list]');
  var hint = document.getElementById('drop-hint');
  var button = form.querySelector('button[type=submit]');
  var csrf = form.querySelector('input[name=_csrf]').value;
  if (hint) hint.textContent = 'Choose several at once, or drop them here.';

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text) e.textContent = text;
    return e;
  }

  function size(n) {
    return n < 1048576 ? Math.max(1, Math.round(n / 1024)) + ' KB' : (n / 1048576).toFixed(1) + ' MB';
  }

  // Dropped files become the input's files, as if picked.
  ['dragenter', 'dragover'].forEach(function (t) {
    form.addEventListener(t, function (ev) {
      if (!ev.dataTransfer || Array.prototype.indexOf.call(ev.dataTransfer.types, 'Files') < 0) return;
      ev.preventDefault();
      ev.dataTransfer.dropEffect = 'copy';
      zone.classList.add('is-over');
    });
  });
  ['dragleave', 'drop'].forEach(function (t) {
    form.addEventListener(t, function () { zone.classList.remove('is-over'); });
  });
  form.addEventListener('drop', function (ev) {
    if (!ev.dataTransfer || !ev.dataTransfer.files.length) return;
    ev.preventDefault();
    input.files = ev.dataTransfer.files;
    input.dispatchEvent(new Event('change'));
    input.focus();
  });

  function row(file) {
    var li = el('li');
    li.appendChild(el('span', 'fname', file.name));
    li.appendChild(el('span', 'muted small', size(file.size)));
    var bar = el('progress');
    bar.max = 100;
    bar.value = 0;
    bar.setAttribute('aria-label', 'Upload of ' + file.name);
    li.appendChild(bar);
    li.appendChild(el('span', 'result', 'Waiting'));
    return li;
  }

  function send(file, li, done) {
    var bar = li.querySelector('progress');
    var result = li.querySelector('.result');
    var data = new FormData();
    data.append('title', form.elements.title.value);
    data.append('album_id', form.elements.album_id.value);
    data.append('file', file, file.name);
    var xhr = new XMLHttpRequest();
    xhr.open('POST', form.action);
    xhr.setRequestHeader('X-CSRF-Token', csrf);
    xhr.setRequestHeader('Accept', 'application/json');
    result.textContent = 'Uploading…';
    xhr.upload.onprogress = function (ev) {
      if (ev.lengthComputable) bar.value = Math.round(100 * ev.loaded / ev.total);
    };
    xhr.onload = function () {
      var body = null;
      try { body = JSON.parse(xhr.responseText); } catch (e) { /* not JSON: an error page */ }
      bar.value = 100;
      if (xhr.status === 201 && body && body.saved && body.saved.length) {
        var saved = body.saved[0];
        li.classList.add('is-done');
        result.textContent = 'Saved as ';
        var a = el('a', '', saved.title || 'a photo');
        a.href = saved.url;
        result.appendChild(a);
        done(true);
        return;
      }
      li.classList.add('is-refused');
      var msg = body && body.error && body.error.message;
      if (!msg && xhr.status === 403) msg = 'this page has expired: reload it and try again.';
      result.textContent = 'Not saved: ' + (msg || ('the server answered ' + xhr.status + '.'));
      done(false);
    };
    xhr.onerror = function () {
      li.classList.add('is-refused');
      result.textContent = 'Not saved: the connection failed. Try again.';
      done(false);
    };
    xhr.send(data);
  }

  input.addEventListener('change', function () {
    list.textContent = '';
    list.hidden = !input.files.length;
    Array.prototype.forEach.call(input.files, function (f) { list.appendChild(row(f)); });
  });

  form.addEventListener('submit', function (ev) {
    var files = Array.prototype.slice.call(input.files);
    if (!files.length) return;
    ev.preventDefault();
    button.disabled = true;
    list.textContent = '';
    list.hidden = false;
    var rows = files.map(function (f) { var li = row(f); list.appendChild(li); return li; });
    var saved = 0, refused = 0, next = 0;
    // One file at a time: the server ingests each as it arrives.
    (function step() {
      if (next === files.length) {
        button.disabled = false;
        input.value = '';
        if (!refused) {
          window.location.assign('/?done=saved&saved=' + saved);
          return;
        }
        var total = el('li', 'upload-total', saved + ' saved, ' + refused + ' not saved. ');
        if (saved) {
          var a = el('a', '', 'See the saved photos');
          a.href = '/?done=saved&saved=' + saved;
          total.appendChild(a);
        }
        list.appendChild(total);
        return;
      }
      var i = next++;
      send(files[i], rows[i], function (ok) {
        if (ok) saved++; else refused++;
        step();
      });
    })();
  });
})();
