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
            if (region.querySelector("input[type=checkbox]:checked")) continue; // a selection in progress
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

  // ---------------------------------------------------------------- keyboard shortcuts

  function typing(target) {
    var tag = target && target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable);
  }

  function queueRows() {
    return Array.prototype.slice.call(document.querySelectorAll("table.queue tbody tr[data-ticket]"));
  }

  function selectedRow() {
    return document.querySelector("table.queue tbody tr.selected");
  }

  function select(row) {
    var rows = queueRows();
    rows.forEach(function (r) { r.classList.remove("selected"); r.removeAttribute("aria-selected"); });
    if (!row) return;
    row.classList.add("selected");
    row.setAttribute("aria-selected", "true");
    var link = row.querySelector("a");
    if (link) link.focus();
  }

  function ticketUrl(number) {
    return document.body.getAttribute("data-root") + "/tickets/" + encodeURIComponent(number);
  }

  // Assign to me: the same POST as the ticket page's button, with this session's CSRF token.
  function assignToMe(number) {
    var form = document.createElement("form");
    form.method = "post";
    form.action = ticketUrl(number) + "/assign";
    [["csrf_token", document.body.getAttribute("data-csrf")], ["assignee", document.body.getAttribute("data-me")]]
      .forEach(function (pair) {
        var input = document.createElement("input");
        input.type = "hidden";
        input.name = pair[0];
        input.value = pair[1];
        form.appendChild(input);
      });
    document.body.appendChild(form);
    form.submit();
  }

  function shortcuts() {
    var overlay = document.getElementById("shortcuts");
    if (!overlay) return;
    var before = null;
    function show(open) {
      overlay.hidden = !open;
      if (open) {
        before = document.activeElement;
        overlay.querySelector("[data-close]").focus();
      } else if (before && before.focus) {
        before.focus();
      }
    }
    overlay.querySelector("[data-close]").addEventListener("click", function () { show(false); });
    var ticketHead = document.querySelector("[data-ticket-page]");
    if (ticketHead && window.location.hash === "#reply") {
      var box = document.getElementById("reply-text");
      if (box) box.focus();
    }
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && !overlay.hidden) { event.preventDefault(); show(false); return; }
      if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
      if (event.key === "?") { event.preventDefault(); show(overlay.hidden); return; }
      if (!overlay.hidden) return;
      var number = ticketHead ? ticketHead.getAttribute("data-ticket-page") : null;
      var rows = queueRows();
      var row = selectedRow();
      if (!number && row) number = row.getAttribute("data-ticket");
      if ((event.key === "j" || event.key === "k") && rows.length) {
        event.preventDefault();
        var at = row ? rows.indexOf(row) : -1;
        var next = event.key === "j" ? Math.min(rows.length - 1, at + 1) : Math.max(0, at - 1);
        select(rows[next]);
      } else if (event.key === "Enter" && row && !ticketHead && event.target === document.body) {
        event.preventDefault();
        window.location.href = ticketUrl(row.getAttribute("data-ticket"));
      } else if (event.key === "a" && number) {
        event.preventDefault();
        assignToMe(number);
      } else if (event.key === "r" && number) {
        event.preventDefault();
        var reply = ticketHead ? document.getElementById("reply-text") : null;
        if (reply) reply.focus();
        else if (!ticketHead) window.location.href = ticketUrl(number) + "#reply";
      }
    });
  }

  // A canned reply (data/console/canned_replies.yml, filled in by the server) goes into the
  // reply box as text, for the agent to edit before sending.
  function canned() {
    var pick = document.querySelector("select[data-canned]");
    var box = document.getElementById("reply-text");
    if (!pick || !box) return;
    pick.addEventListener("change", function () {
      var option = pick.options[pick.selectedIndex];
      var text = option ? option.getAttribute("data-text") : null;
      if (text) {
        box.value = box.value ? box.value.replace(/\s*$/, "\n") + text : text;
        box.focus();
      }
      pick.selectedIndex = 0;
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    canned();
    autosubmit();
    remember();
    sortable(document);
    live();
    shortcuts();
    // Every handler is in place: keys pressed from now on are heard (browser tests wait for this).
    document.documentElement.setAttribute("data-console-ready", "");
  });
})();
