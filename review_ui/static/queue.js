// Keyboard triage in the queue: j/k move the selection, Enter opens the hit.
// No crawled text is ever inserted here; the page is rendered escaped by the server.
(function () {
  "use strict";
  const rows = Array.from(document.querySelectorAll("tr[data-hit-id]"));
  if (!rows.length) return;
  let current = 0;
  function select(i) {
    rows[current].classList.remove("selected");
    rows[current].removeAttribute("aria-selected");
    current = Math.max(0, Math.min(rows.length - 1, i));
    rows[current].classList.add("selected");
    rows[current].setAttribute("aria-selected", "true");
    rows[current].scrollIntoView({ block: "nearest" });
  }
  select(0);
  document.addEventListener("keydown", function (event) {
    if (event.target.closest("input, textarea, select") || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "j") select(current + 1);
    else if (event.key === "k") select(current - 1);
    else if (event.key === "Enter") window.location.assign("/hit/" + encodeURIComponent(rows[current].dataset.hitId));
  });
})();
