/* Sorting and filtering of the overview table; no network, no external code. */
(function () {
  "use strict";
  var table = document.getElementById("overview");
  if (!table) { return; }
  var tbody = table.tBodies[0];
  var rows = Array.prototype.slice.call(tbody.rows);
  var selects = document.querySelectorAll(".filters select");
  var search = document.getElementById("q");
  var count = document.getElementById("count");
  var total = new Set(rows.map(function (tr) { return tr.dataset.library; })).size;

  function matches(tr) {
    for (var i = 0; i < selects.length; i++) {
      var want = selects[i].value;
      if (want && (tr.dataset[selects[i].name] || "").split(" ").indexOf(want) < 0) { return false; }
    }
    var q = search.value.trim().toLowerCase();
    return !q || tr.textContent.toLowerCase().indexOf(q) >= 0;
  }

  /* One row per library: among its configurations that match the filters, the preferred one. */
  function apply() {
    var best = {};
    rows.forEach(function (tr) {
      if (!matches(tr)) { return; }
      var lib = tr.dataset.library, rank = Number(tr.dataset.rank);
      if (!(lib in best) || rank < best[lib]) { best[lib] = rank; }
    });
    var shown = 0;
    rows.forEach(function (tr) {
      var show = best[tr.dataset.library] === Number(tr.dataset.rank);
      tr.hidden = !show;
      if (show) { shown += 1; }
    });
    count.textContent = shown + " of " + total + (total === 1 ? " library" : " libraries") + " shown";
  }

  function key(tr, col) {
    var cell = tr.cells[col];
    var v = cell.getAttribute("data-v");
    return v === null ? cell.textContent.trim().toLowerCase() : v;
  }

  var headers = table.tHead.rows[0].cells;
  Array.prototype.forEach.call(headers, function (th, col) {
    th.addEventListener("click", function () {
      var desc = th.classList.contains("asc");
      Array.prototype.forEach.call(headers, function (h) { h.classList.remove("asc", "desc"); });
      th.classList.add(desc ? "desc" : "asc");
      var numeric = th.getAttribute("data-sort") === "num";
      rows.sort(function (a, b) {
        var x = key(a, col), y = key(b, col), r;
        if (numeric) {
          var fx = x === "" ? -Infinity : Number(x), fy = y === "" ? -Infinity : Number(y);
          r = fx - fy;
        } else { r = x < y ? -1 : x > y ? 1 : 0; }
        return desc ? -r : r;
      });
      rows.forEach(function (tr) { tbody.appendChild(tr); });
    });
  });

  Array.prototype.forEach.call(selects, function (s) { s.addEventListener("change", apply); });
  search.addEventListener("input", apply);
  apply();
}());
