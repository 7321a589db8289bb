// Keyboard triage in the queue.
//   j/k move the selection, Enter opens the hit,
//   a confirm, x false positive (asks for a reason), s skip, e escalate, u undo,
//   m mark the row for a bulk action, ? help.
// Decisions are POSTed with the session's CSRF token; the server checks every permission.
// No crawled text is ever inserted here: the page is rendered escaped by the server and
// this script only sets textContent from the server's own JSON messages.
(function () {
  "use strict";
  const meta = document.querySelector('meta[name="csrf-token"]');
  const csrf = meta ? meta.getAttribute("content") : "";
  const status = document.getElementById("status");
  const help = document.getElementById("help-dialog");
  const fpDialog = document.getElementById("fp-dialog");
  const fpForm = document.getElementById("fp-form");
  const fpReason = document.getElementById("fp-reason");
  const fpError = document.getElementById("fp-error");
  const canDecide = Boolean(fpDialog);
  let rows = Array.from(document.querySelectorAll("tr[data-hit-id]"));
  let current = 0;
  let busy = false;

  function say(message, isError) {
    if (!status) return;
    status.textContent = message;
    status.classList.toggle("error", Boolean(isError));
  }

  function select(i) {
    if (!rows.length) return;
    if (rows[current]) {
      rows[current].classList.remove("selected");
      rows[current].removeAttribute("aria-selected");
    }
    current = Math.max(0, Math.min(rows.length - 1, i));
    rows[current].classList.add("selected");
    rows[current].setAttribute("aria-selected", "true");
    rows[current].focus({ preventScroll: true });
    rows[current].scrollIntoView({ block: "nearest" });
  }

  function post(url, fields) {
    const body = new URLSearchParams(fields || {});
    body.set("csrf", csrf);
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRF-Token": csrf },
      body: body,
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (response.status === 401) window.location.assign("/login");
        if (!response.ok || !data.ok) throw new Error(data.error || status.dataset.failed + " (" + response.status + ")");
        return data;
      });
    });
  }

  function decide(action, reason) {
    if (busy || !rows.length) return;
    const row = rows[current];
    busy = true;
    say(status.dataset.submitting);
    post("/hit/" + encodeURIComponent(row.dataset.hitId) + "/" + action, reason ? { reason: reason } : {})
      .then(function (data) {
        // The decided row leaves the queue; the next one is selected by itself.
        const index = current;
        row.remove();
        rows = rows.filter(function (r) { return r !== row; });
        current = 0;
        if (rows.length) select(Math.min(index, rows.length - 1));
        say(data.message + status.dataset.undoHint + (rows.length ? "" : status.dataset.pageDone));
      })
      .catch(function (err) { say(err.message, true); })
      .finally(function () { busy = false; });
  }

  function undo() {
    if (busy) return;
    busy = true;
    post("/undo")
      .then(function (data) {
        try { sessionStorage.setItem("fangxin-status", data.message); } catch (e) { /* storage off */ }
        window.location.reload();
      })
      .catch(function (err) { say(err.message, true); busy = false; });
  }

  function askReason() {
    if (!rows.length) return;
    fpReason.value = "";
    fpError.textContent = "";
    fpDialog.showModal();
    fpReason.focus();
  }

  if (fpForm) {
    fpForm.addEventListener("submit", function (event) {
      event.preventDefault();
      const reason = fpReason.value.trim();
      if (!reason) {
        fpError.textContent = fpError.dataset.needReason;
        fpReason.focus();
        return;
      }
      fpDialog.close();
      decide("false-positive", reason);
    });
    fpReason.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey) {
        event.preventDefault();
        fpForm.requestSubmit();
      }
    });
    document.getElementById("fp-cancel").addEventListener("click", function () { fpDialog.close(); });
    fpDialog.addEventListener("close", function () { if (rows[current]) rows[current].focus({ preventScroll: true }); });
  }

  try {
    const saved = sessionStorage.getItem("fangxin-status");
    if (saved) {
      sessionStorage.removeItem("fangxin-status");
      say(saved);
    }
  } catch (e) { /* storage off */ }

  select(0);
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (document.querySelector("dialog[open]")) return;
    if (event.target.closest("input, textarea, select, button, a")) return;
    const key = event.key;
    if (key === "?") { event.preventDefault(); help.showModal(); return; }
    if (key === "j") select(current + 1);
    else if (key === "k") select(current - 1);
    else if (key === "Enter" && rows.length) window.location.assign("/hit/" + encodeURIComponent(rows[current].dataset.hitId));
    else if (!canDecide) return;
    else if (key === "a") decide("confirm");
    else if (key === "x") { event.preventDefault(); askReason(); }
    else if (key === "s") decide("skip");
    else if (key === "e") decide("escalate");
    else if (key === "u") undo();
    else if (key === "m" && rows.length) {
      const box = rows[current].querySelector('input[type="checkbox"]');
      if (box) box.checked = !box.checked;
    }
  });
})();
