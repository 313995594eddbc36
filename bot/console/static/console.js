// Support console: small progressive enhancements; every page works without this file.
// Loaded as a file (the pages' CSP forbids inline script); touches no user text.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    // Filters apply as soon as a choice changes.
    var selects = document.querySelectorAll("select[data-autosubmit]");
    for (var i = 0; i < selects.length; i++) {
      selects[i].addEventListener("change", function (event) {
        var form = event.target.form;
        if (form) form.requestSubmit ? form.requestSubmit() : form.submit();
      });
    }
  });
})();
