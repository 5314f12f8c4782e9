// Custody's portal: the little the pages need beyond HTML. Everything works without it
// except following the video on the timeline and the map.
"use strict";

(function () {
  const player = document.querySelector("video[data-player]");

  function seek(seconds) {
    if (!player || Number.isNaN(seconds)) return;
    player.currentTime = seconds;
    player.focus();
  }

  // Buttons that jump the video: timeline pictures and bookmarks.
  document.querySelectorAll("[data-seek]").forEach(function (button) {
    button.addEventListener("click", function () {
      seek(parseFloat(button.getAttribute("data-seek")));
    });
  });

  // Words of a transcript are spans (so that a person can select them): the keyboard plays
  // them as buttons too.
  document.querySelectorAll("[data-transcript] [data-seek][role=button]").forEach(function (word) {
    word.addEventListener("keydown", function (event) {
      if (event.key !== "Enter" && event.key !== " ") return;
      event.preventDefault();
      seek(parseFloat(word.getAttribute("data-seek")));
    });
  });

  // Words selected in the transcript fill the "mute these words" form.
  const muteForm = document.querySelector("form[data-mute-words]");
  const transcript = document.querySelector("[data-transcript]");
  if (muteForm && transcript) {
    const first = muteForm.querySelector("[data-mute-first]");
    const last = muteForm.querySelector("[data-mute-last]");
    const chosen = muteForm.querySelector("[data-mute-chosen]");
    const wordOf = function (node) {
      const element = node && (node.nodeType === 1 ? node : node.parentElement);
      const word = element ? element.closest("[data-word]") : null;
      return word && transcript.contains(word) ? word : null;
    };
    document.addEventListener("selectionchange", function () {
      const selection = document.getSelection();
      if (!selection || selection.isCollapsed) return;
      const a = wordOf(selection.anchorNode);
      const b = wordOf(selection.focusNode);
      if (!a || !b) return;
      const i = parseInt(a.getAttribute("data-word"), 10);
      const j = parseInt(b.getAttribute("data-word"), 10);
      first.value = String(Math.min(i, j));
      last.value = String(Math.max(i, j));
      if (chosen) chosen.textContent = "Chosen: " + selection.toString().trim();
    });
  }

  // A link to a moment (#t=12.5, from the words-spoken search) starts the video there.
  const moment = /^#t=(\d+(?:\.\d+)?)$/.exec(window.location.hash);
  if (player && moment) {
    const at = parseFloat(moment[1]);
    if (player.readyState >= 1) player.currentTime = at;
    else player.addEventListener("loadedmetadata", function () { player.currentTime = at; }, { once: true });
  }

  // Fill a bookmark's moment from where the video is now.
  const nowButton = document.querySelector("[data-now]");
  const nowTarget = document.querySelector("[data-now-target]");
  if (nowButton && nowTarget && player) {
    nowButton.addEventListener("click", function () {
      nowTarget.value = player.currentTime.toFixed(1);
      nowTarget.focus();
    });
  }

  // A clip's in and out points, from where the video is now.
  document.querySelectorAll("[data-clip-set]").forEach(function (button) {
    const point = button.getAttribute("data-clip-set");
    const field = document.querySelector('[data-clip-point="' + point + '"]');
    if (!player || !field) return;
    button.addEventListener("click", function () {
      field.value = player.currentTime.toFixed(2);
      field.dispatchEvent(new Event("change", { bubbles: true }));
    });
  });

  // The playhead on the timeline, the current picture, and the marker on the route.
  const timeline = document.querySelector("[data-timeline]");
  const playhead = document.querySelector("[data-playhead]");
  const frames = timeline ? Array.from(timeline.querySelectorAll(".frame")) : [];
  const map = document.querySelector("svg[data-track]");
  const marker = map ? map.querySelector("[data-track-now]") : null;
  const track = map ? JSON.parse(map.getAttribute("data-track") || "[]") : [];

  function place(seconds) {
    if (track.length === 0 || !marker) return;
    let i = 0;
    while (i < track.length - 1 && track[i + 1][0] <= seconds) i += 1;
    const a = track[i];
    const b = track[Math.min(i + 1, track.length - 1)];
    const span = b[0] - a[0];
    const f = span > 0 ? Math.min(1, Math.max(0, (seconds - a[0]) / span)) : 0;
    marker.setAttribute("cx", (a[1] + (b[1] - a[1]) * f).toFixed(1));
    marker.setAttribute("cy", (a[2] + (b[2] - a[2]) * f).toFixed(1));
  }

  function follow() {
    if (!player) return;
    const duration = player.duration || parseFloat(timeline ? timeline.dataset.duration : "0");
    const t = player.currentTime;
    if (playhead && duration > 0) {
      playhead.setAttribute("x", Math.min(997, (1000 * t) / duration).toFixed(1));
    }
    if (frames.length && duration > 0) {
      const index = Math.min(frames.length - 1, Math.floor((t / duration) * frames.length));
      frames.forEach(function (frame, n) {
        frame.classList.toggle("current", n === index);
      });
    }
    place(t);
  }

  if (player) {
    player.addEventListener("timeupdate", follow);
    player.addEventListener("seeked", follow);
    player.addEventListener("loadedmetadata", follow);
  }

  // My footage: say how many are ticked; tick the uncategorised of one docking at once.
  const bulk = document.querySelector("form[data-bulk]");
  if (bulk) {
    const output = bulk.querySelector("[data-picked]");
    const count = function () {
      const n = bulk.querySelectorAll("input[data-pick]:checked").length;
      if (output) output.textContent = n === 0 ? "None selected" : n + " selected";
    };
    bulk.addEventListener("change", count);
    bulk.querySelectorAll("[data-pick-all]").forEach(function (button) {
      button.addEventListener("click", function () {
        const list = document.getElementById(button.getAttribute("data-pick-all") + "-cards");
        if (!list) return;
        list.querySelectorAll(".card.needs input[data-pick]:not(:disabled)").forEach(function (box) {
          box.checked = true;
        });
        count();
      });
    });
    count();
  }

  // A form's list of problems takes the focus, so a screen reader hears it at once.
  const summary = document.querySelector("[data-autofocus]");
  if (summary) summary.focus();

  // A dock's new token: selected on focus, ready to copy.
  document.querySelectorAll("[data-select-on-focus]").forEach(function (input) {
    input.addEventListener("focus", function () {
      input.select();
    });
  });

  // The redaction editor's manual boxes: add and remove rows here, without a round trip
  // (without a script, the same buttons ask the server for the page with one more or less).
  const rowsHolder = document.querySelector("[data-box-rows]");
  const addRow = document.querySelector("[data-add-row]");
  function wireRemove(row) {
    const remove = row.querySelector("[data-remove-row]");
    if (!remove) return;
    remove.addEventListener("click", function (event) {
      event.preventDefault();
      if (rowsHolder.querySelectorAll("[data-box-row]").length > 1) {
        row.remove();
      } else {
        row.querySelectorAll("input").forEach(function (input) { input.value = ""; });
      }
    });
  }
  if (rowsHolder && addRow) {
    rowsHolder.querySelectorAll("[data-box-row]").forEach(wireRemove);
    addRow.addEventListener("click", function (event) {
      const rows = rowsHolder.querySelectorAll("[data-box-row]");
      if (rows.length === 0 || rows.length >= 200) return;
      event.preventDefault();
      const last = rows[rows.length - 1];
      let next = 0;
      rows.forEach(function (row) {
        next = Math.max(next, parseInt(row.getAttribute("data-box-row"), 10) || 0);
      });
      next += 1;
      const row = last.cloneNode(true);
      const from = "box-" + last.getAttribute("data-box-row") + "-";
      const to = "box-" + next + "-";
      row.setAttribute("data-box-row", String(next));
      row.querySelectorAll(".field-error").forEach(function (error) { error.remove(); });
      row.querySelectorAll("[id], [name], [for], [value]").forEach(function (el) {
        ["id", "name", "for"].forEach(function (attr) {
          const value = el.getAttribute(attr);
          if (value) el.setAttribute(attr, value.replace(from, to));
        });
      });
      row.querySelectorAll("input").forEach(function (input) { input.value = ""; });
      row.querySelectorAll(".visually-hidden").forEach(function (label) {
        label.textContent = label.textContent.replace(/box \d+/, "box " + next);
      });
      const remove = row.querySelector("[data-remove-row]");
      if (remove) remove.value = "remove-" + next;
      last.after(row);
      wireRemove(row);
      const first = row.querySelector("input");
      if (first) first.focus();
    });
  }
})();
