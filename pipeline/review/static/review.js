// Keyboard review of one alignment: j/k move, a approve, r reject, m merge, s split, u undo.
// Every decision is POSTed at once with fetch; the server answers with the re-rendered row(s).
(() => {
  "use strict";
  const review = document.getElementById("review");
  const body = document.getElementById("pairs");
  if (!review || !body) return;
  const csrf = review.dataset.csrf;
  const nameInput = document.getElementById("reviewer");
  const message = document.getElementById("message");
  const bar = document.getElementById("progress");
  const barText = document.getElementById("progress-text");
  const KEEP_CURSOR = new Set(["a", "r"]);
  let cursorId = null;
  let queue = Promise.resolve();

  const rows = () => Array.from(body.querySelectorAll("tr.pair"));
  const rowOf = (id) => body.querySelector(`tr.pair[data-id="${CSS.escape(String(id))}"]`);

  function show(id) {
    const list = rows();
    const row = rowOf(id) || list.find((r) => r.classList.contains("status-pending")) || list[0];
    for (const r of list) r.classList.toggle("current", r === row);
    cursorId = row ? row.dataset.id : null;
    if (row) row.scrollIntoView({ block: "nearest" });
  }

  function moveBy(step) {
    const list = rows();
    const index = list.findIndex((r) => r.dataset.id === cursorId);
    const next = list[Math.min(Math.max(index + step, 0), list.length - 1)];
    if (next) show(next.dataset.id);
  }

  function say(text, isError) {
    message.textContent = text;
    message.classList.toggle("error", isError);
  }

  function progress(p) {
    bar.max = p.total || 1;
    bar.value = p.decided;
    barText.textContent = `${p.decided}/${p.total} decided, ${p.approved} approved, ${p.rejected} rejected`;
  }

  function replaceRows(rowsById) {
    for (const [id, html] of Object.entries(rowsById)) {
      const template = document.createElement("template");
      template.innerHTML = html.trim();
      const old = rowOf(id);
      if (old && template.content.firstElementChild) old.replaceWith(template.content.firstElementChild);
    }
  }

  function send(form, keepCursor) {
    const reviewer = nameInput ? nameInput.value.trim() : "";
    if (!reviewer) {
      say("Enter your name as reviewer first.", true);
      if (nameInput) nameInput.focus();
      return;
    }
    const data = new FormData(form);
    data.set("reviewer", reviewer);
    queue = queue.then(async () => {
      let response;
      try {
        response = await fetch(form.action, {
          method: "POST",
          body: data,
          credentials: "same-origin",
          headers: { "X-Requested-With": "fetch", "X-CSRF-Token": csrf },
        });
      } catch (error) {
        say(`Not saved: ${error}`, true);
        return;
      }
      const payload = await response.json().catch(() => ({ error: response.statusText }));
      if (!response.ok) {
        say(payload.error || `Not saved (${response.status})`, true);
        return;
      }
      if (payload.rows) replaceRows(payload.rows);
      else body.innerHTML = payload.html;
      progress(payload.progress);
      say("Saved.", false);
      show(keepCursor ? cursorId : payload.focus || cursorId);
    });
  }

  function act(key) {
    if (key === "u") {
      send(document.getElementById("undo-form"), false);
      return;
    }
    const row = rowOf(cursorId);
    const form = row && row.querySelector(`form[data-key="${key}"]`);
    if (!form) {
      say(`Nothing to do for "${key}" on this pair.`, true);
      return;
    }
    if (KEEP_CURSOR.has(key)) moveBy(1);
    send(form, KEEP_CURSOR.has(key));
  }

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.target.closest("input, textarea, select")) return;
    const key = event.key;
    if (key === "j" || key === "ArrowDown") moveBy(1);
    else if (key === "k" || key === "ArrowUp") moveBy(-1);
    else if (["a", "r", "m", "s", "u"].includes(key)) act(key);
    else return;
    event.preventDefault();
  });

  review.addEventListener("submit", (event) => {
    const form = event.target;
    if (!form.classList.contains("act")) return;
    event.preventDefault();
    const row = form.closest("tr.pair");
    if (row) show(row.dataset.id);
    send(form, KEEP_CURSOR.has(form.dataset.key));
  });

  body.addEventListener("click", (event) => {
    const row = event.target.closest("tr.pair");
    if (row && !event.target.closest("form")) show(row.dataset.id);
  });

  show(location.hash.startsWith("#pair-") ? location.hash.slice(6) : null);
})();
