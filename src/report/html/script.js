
(function () {
  'use strict';
  function key(cell) {
    var k = cell ? (cell.getAttribute('data-sort') || cell.textContent.trim()) : '';
    var n = Number(k);
    return k !== '' && !isNaN(n) ? n : k.toLowerCase();
  }
  function compare(a, b) {
    if (typeof a === 'number' && typeof b === 'number') { return a - b; }
    return String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0;
  }
  Array.prototype.forEach.call(document.querySelectorAll('table.sortable'), function (table) {
    var head = table.tHead && table.tHead.rows[0];
    if (!head) { return; }
    Array.prototype.forEach.call(head.cells, function (th, i) {
      var button = document.createElement('button');
      button.type = 'button';
      button.className = 'sort';
      while (th.firstChild) { button.appendChild(th.firstChild); }
      th.appendChild(button);
      button.addEventListener('click', function () {
        var dir = th.getAttribute('aria-sort') === 'ascending' ? -1 : 1;
        Array.prototype.forEach.call(head.cells, function (h) { h.removeAttribute('aria-sort'); });
        th.setAttribute('aria-sort', dir === 1 ? 'ascending' : 'descending');
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) { return dir * compare(key(a.cells[i]), key(b.cells[i])); });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  });
  var filter = document.getElementById('coverage-filter');
  var select = document.getElementById('coverage-filter-select');
  var count = document.getElementById('coverage-filter-count');
  var matrix = document.getElementById('coverage');
  if (filter && select && matrix) {
    filter.hidden = false;
    select.addEventListener('change', function () {
      var want = select.value;
      var shown = 0;
      Array.prototype.forEach.call(matrix.tBodies[0].rows, function (row) {
        var has = (row.getAttribute('data-outcomes') || '').split(' ');
        row.hidden = want !== '' && has.indexOf(want) < 0;
        if (!row.hidden) { shown += 1; }
      });
      count.textContent = want === '' ? '' : shown + ' of ' + matrix.tBodies[0].rows.length + ' leavers';
    });
  }
  window.addEventListener('beforeprint', function () {
    Array.prototype.forEach.call(document.querySelectorAll('details'), function (d) { d.open = true; });
    Array.prototype.forEach.call(document.querySelectorAll('tr[hidden]'), function (r) { r.hidden = false; });
    if (select) { select.value = ''; }
  });
  document.documentElement.setAttribute('data-js', 'ready');
})();
