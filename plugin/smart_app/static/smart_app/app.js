// DeepDR review page: progress polling, photograph and lesion-map controls, and one
// submission per click. Everything works without it except live progress (a <noscript>
// refresh covers that) and the overlay toggle.
(function () {
  "use strict";

  function pollProgress(panel) {
    var url = panel.getAttribute("data-status-url");
    var bar = document.getElementById("progress");
    var stage = document.getElementById("stage");
    function tick() {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.json(); })
        .then(function (s) {
          if (bar && typeof s.progress === "number") { bar.value = s.progress; bar.textContent = s.progress + "%"; }
          if (stage && s.message) { stage.textContent = s.message; }
          if (s.done) { window.location.reload(); } else { window.setTimeout(tick, 1000); }
        })
        .catch(function () { window.setTimeout(tick, 3000); });
    }
    window.setTimeout(tick, 700);
  }

  function overlaySrc(img, lesion) {
    var base = img.getAttribute("data-base");
    return lesion ? base + "?lesions=" + encodeURIComponent(lesion) : base;
  }

  document.addEventListener("DOMContentLoaded", function () {
    var panel = document.getElementById("progress-panel");
    if (panel) { pollProgress(panel); }

    // Advice text areas grow with their text: no item hides its end behind a scrollbar.
    document.querySelectorAll(".item textarea").forEach(function (area) {
      area.rows = 2;  // the floor; the text sets the rest
      function fit() {
        area.style.height = "auto";
        area.style.height = (area.scrollHeight + 2) + "px";
      }
      area.addEventListener("input", fit);
      fit();
    });
    document.querySelectorAll(".overlay-toggle").forEach(function (box) {
      box.addEventListener("change", function () {
        var img = document.getElementById(box.getAttribute("data-target"));
        if (img) { img.hidden = !box.checked; }
      });
    });
    document.querySelectorAll(".lesion-select").forEach(function (sel) {
      sel.addEventListener("change", function () {
        var img = document.getElementById(sel.getAttribute("data-target"));
        if (img) { img.src = overlaySrc(img, sel.value); }
      });
    });
    document.querySelectorAll(".thumb").forEach(function (btn) {
      btn.addEventListener("click", function () {
        var photo = document.getElementById(btn.getAttribute("data-photo"));
        var overlay = document.getElementById(btn.getAttribute("data-overlay"));
        if (photo) { photo.src = btn.getAttribute("data-full"); }
        if (overlay) {
          overlay.setAttribute("data-base", btn.getAttribute("data-overlay-src"));
          overlay.src = btn.getAttribute("data-overlay-src");
        }
        btn.parentNode.parentNode.querySelectorAll(".thumb").forEach(function (other) {
          other.setAttribute("aria-pressed", other === btn ? "true" : "false");
        });
      });
    });
    // One submission per click: a double click sends one request (the server is
    // idempotent anyway; this keeps the clinician from waiting on two).
    document.querySelectorAll("form[method='post']").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (form.getAttribute("data-sent") === "1") { event.preventDefault(); return; }
        form.setAttribute("data-sent", "1");
        form.querySelectorAll("button[type='submit']").forEach(function (b) {
          b.setAttribute("aria-busy", "true");
        });
      });
    });
  });
})();
