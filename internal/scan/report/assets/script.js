(function () {
  "use strict";
  var boxes = document.querySelectorAll("input[data-filter-severity]");
  var hideBlocked = document.getElementById("hide-blocked");
  var shown = document.getElementById("shown");
  function apply() {
    var on = {};
    boxes.forEach(function (b) { on[b.getAttribute("data-filter-severity")] = b.checked; });
    var n = 0;
    document.querySelectorAll("[data-severity]").forEach(function (el) {
      var visible = on[el.getAttribute("data-severity")] !== false &&
        !(hideBlocked && hideBlocked.checked && el.getAttribute("data-blocked") === "true");
      el.hidden = !visible;
      if (visible && el.classList.contains("finding")) { n++; }
    });
    document.querySelectorAll("[data-group]").forEach(function (g) {
      g.hidden = g.querySelector("[data-severity]:not([hidden])") === null;
    });
    if (shown) { shown.textContent = n + " shown"; }
  }
  var expand = document.getElementById("expand");
  if (expand) {
    expand.addEventListener("click", function () {
      var open = expand.textContent === "expand all";
      document.querySelectorAll("details.finding").forEach(function (d) { d.open = open; });
      expand.textContent = open ? "collapse all" : "expand all";
    });
  }
  boxes.forEach(function (b) { b.addEventListener("change", apply); });
  if (hideBlocked) { hideBlocked.addEventListener("change", apply); }
  apply();
})();
