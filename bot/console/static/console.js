// Support console: small progressive enhancements; every page works without this file.
// Loaded as a file (the pages' CSP forbids inline script). It never builds HTML from data:
// live updates take the server's own rendering (escaped by the templates) of the same page.
(function () {
  "use strict";

  // Filters apply as soon as a choice changes.
  function autosubmit() {
    var selects = document.querySelectorAll("select[data-autosubmit]");
    for (var i = 0; i < selects.length; i++) {
      selects[i].addEventListener("change", function (event) {
        var form = event.target.form;
        if (form) form.requestSubmit ? form.requestSubmit() : form.submit();
      });
    }
  }

  // ---------------------------------------------------------------- sortable tables

  var sortState = null; // {column, descending}: kept across live updates

  function cellValue(row, column, kind) {
    var cell = row.cells[column];
    if (!cell) return "";
    var raw = cell.getAttribute("data-value");
    if (kind === "number") return raw === null ? 0 : parseFloat(raw);
    return (raw === null ? cell.textContent : raw).trim();
  }

  function applySort(table) {
    if (!sortState || !table.tBodies[0]) return;
    var head = table.tHead.rows[0].cells[sortState.column];
    var kind = head.getAttribute("data-sort");
    var rows = Array.prototype.slice.call(table.tBodies[0].rows);
    rows.sort(function (a, b) {
      var x = cellValue(a, sortState.column, kind);
      var y = cellValue(b, sortState.column, kind);
      var order = kind === "number" ? x - y : String(x).localeCompare(String(y), "zh-CN");
      return sortState.descending ? -order : order;
    });
    rows.forEach(function (row) { table.tBodies[0].appendChild(row); });
    var heads = table.tHead.rows[0].cells;
    for (var i = 0; i < heads.length; i++) {
      if (i === sortState.column) heads[i].setAttribute("aria-sort", sortState.descending ? "descending" : "ascending");
      else heads[i].removeAttribute("aria-sort");
    }
  }

  function sortable(root) {
    var tables = root.querySelectorAll("table[data-sortable]");
    for (var t = 0; t < tables.length; t++) {
      (function (table) {
        var heads = table.tHead.rows[0].cells;
        for (var i = 0; i < heads.length; i++) {
          if (!heads[i].hasAttribute("data-sort")) continue;
          heads[i].tabIndex = 0;
          (function (column, head) {
            function sort() {
              var same = sortState && sortState.column === column;
              sortState = { column: column, descending: same ? !sortState.descending : false };
              applySort(table);
            }
            head.addEventListener("click", sort);
            head.addEventListener("keydown", function (event) {
              if (event.key === "Enter" || event.key === " ") { event.preventDefault(); sort(); }
            });
          })(i, heads[i]);
        }
        applySort(table);
      })(tables[t]);
    }
  }

  // ---------------------------------------------------------------- live updates

  // Every few seconds, fetch this same page and swap in each [data-live] region whose content
  // changed, unless the agent is typing or has focus inside it.
  function live() {
    var first = document.querySelector("[data-live][data-poll]");
    if (!first) return;
    var seconds = Math.max(1, parseFloat(first.getAttribute("data-poll")) || 5);
    var busy = false;
    setInterval(function () {
      if (busy || document.hidden) return;
      busy = true;
      fetch(window.location.href, { credentials: "same-origin", cache: "no-store", headers: { "Accept": "text/html" } })
        .then(function (response) {
          if (!response.ok || response.redirected) return null; // signed out: leave the page as it is
          return response.text();
        })
        .then(function (html) {
          if (html === null) return;
          var fresh = new DOMParser().parseFromString(html, "text/html");
          var regions = document.querySelectorAll("[data-live]");
          for (var i = 0; i < regions.length; i++) {
            var region = regions[i];
            var name = region.getAttribute("data-live");
            var next = fresh.querySelector('[data-live="' + name + '"]');
            if (!next || next.innerHTML === region.getAttribute("data-html")) continue;
            if (region.contains(document.activeElement) && document.activeElement !== document.body) continue;
            var copy = document.importNode(next, true);
            copy.setAttribute("data-html", next.innerHTML);
            region.parentNode.replaceChild(copy, region);
            sortable(copy);
          }
        })
        .catch(function () { /* offline for a moment: the next round tries again */ })
        .finally(function () { busy = false; });
    }, seconds * 1000);
  }

  function remember() {
    var regions = document.querySelectorAll("[data-live]");
    for (var i = 0; i < regions.length; i++) {
      // As parsed from the server's HTML, so the first comparison is like for like.
      regions[i].setAttribute("data-html", regions[i].innerHTML);
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    autosubmit();
    remember();
    sortable(document);
    live();
  });
})();
