/* The module settings form (core/web/admin/settings_form.py), made quicker in the page: its
   "添加一行 / 添加一项" and "删除" buttons add or remove a row here instead of posting the form.
   Without this script the same buttons post the form, which comes back with the row added or
   removed and nothing saved; the names posted are the same either way (<field>-<i>-<column>).
   No framework, nothing from outside the platform (the Content-Security-Policy allows 'self'). */
(function () {
  'use strict';

  function rowsOf(box) {
    var holder = box.querySelector('tbody') || box.querySelector('ul.entries');
    return holder ? Array.prototype.filter.call(holder.children, function (el) {
      return el.classList.contains('setting-row');
    }) : [];
  }

  function renumber(box) {
    var title = box.getAttribute('data-title') || '';
    var entries = box.hasAttribute('data-entries');
    var rows = rowsOf(box);
    rows.forEach(function (row, k) {
      var n = String(k + 1);
      var number = row.querySelector('[data-row-number]');
      if (number) { number.textContent = n; }
      row.querySelectorAll('[data-cell-title]').forEach(function (el) {
        var label = title + ' 第 ' + n + ' 行 ' + el.getAttribute('data-cell-title');
        if (el.tagName === 'FIELDSET') {
          var legend = el.querySelector('legend');
          if (legend) { legend.textContent = label; }
        } else {
          el.setAttribute('aria-label', label);
        }
      });
      row.querySelectorAll('[data-entry-title]').forEach(function (el) {
        el.setAttribute('aria-label', title + ' 第 ' + n + ' 项');
      });
      var remove = row.querySelector('.remove-row');
      if (remove) { remove.setAttribute('aria-label', '删除' + title + '第 ' + n + (entries ? ' 项' : ' 行')); }
    });
    var empty = box.querySelector('.empty-rows');
    if (empty) { empty.hidden = rows.length > 0; }
  }

  function add(box) {
    var template = box.querySelector('template[data-row-template]');
    var holder = box.querySelector('tbody') || box.querySelector('ul.entries');
    if (!template || !holder) { return false; }
    var rows = rowsOf(box);
    var next = 0;
    rows.forEach(function (row) { next = Math.max(next, parseInt(row.getAttribute('data-i'), 10) + 1); });
    holder.insertAdjacentHTML('beforeend', template.innerHTML.replace(/__i__/g, String(next))
      .replace(/__n__/g, String(rows.length + 1)));
    renumber(box);
    var added = rowsOf(box).pop();
    var first = added && added.querySelector('input:not([type=hidden]), select');
    if (first) { first.focus(); }
    return true;
  }

  function remove(box, index) {
    var rows = rowsOf(box);
    var k = rows.findIndex(function (row) { return row.getAttribute('data-i') === index; });
    if (k < 0) { return false; }
    rows[k].remove();
    renumber(box);
    var left = rowsOf(box);
    var focus = left[Math.min(k, left.length - 1)];
    var target = focus ? focus.querySelector('input:not([type=hidden]), select') : box.querySelector('.add-row');
    if (target) { target.focus(); }
    return true;
  }

  // The blank rows the page offers for typing a new entry without JavaScript: here "添加一行 /
  // 添加一项" adds one in place, so they go (an untouched one only).
  function dropBlankRows() {
    document.querySelectorAll('form[data-settings-form] [data-rows]').forEach(function (box) {
      var dropped = false;
      rowsOf(box).forEach(function (row) {
        if (!row.hasAttribute('data-blank')) { return; }
        var typed = Array.prototype.some.call(row.querySelectorAll('input:not([type=hidden]), select'), function (el) {
          return el.type === 'checkbox' ? el.checked : el.value !== '';
        });
        if (!typed) { row.remove(); dropped = true; }
      });
      if (dropped) { renumber(box); }
    });
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', dropBlankRows);
  } else {
    dropBlankRows();
  }

  document.addEventListener('click', function (event) {
    var button = event.target.closest && event.target.closest('button[name=row_action]');
    if (!button || !button.closest('form[data-settings-form]')) { return; }
    var parts = (button.value || '').split(':');
    var box = button.closest('[data-rows]');
    if (!box || box.getAttribute('data-rows') !== parts[1]) { return; }
    var done = parts[0] === 'add' ? add(box) : parts[0] === 'remove' ? remove(box, parts[2]) : false;
    if (done) { event.preventDefault(); }
  });
})();
