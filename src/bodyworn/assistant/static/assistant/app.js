/* Body Worn Assistant: the app's screen. No framework: a few views drawn from the app's
 * service (/api/, /media/). Video is never shown by a <video> element: frames are drawn
 * on a canvas with the watermark on top, so a screenshot carries it, and there is no
 * control that could save the video. */
"use strict";

(() => {
  const S = JSON.parse(document.getElementById("bwa-strings").textContent);
  const view = document.getElementById("view");
  const title = document.getElementById("title");
  const problemBox = document.getElementById("problem");
  const tabs = document.getElementById("tabs");
  const backButton = document.getElementById("back");
  const CHANGE = { "X-Requested-With": "bodyworn-assistant" };
  const FRAME = 1 / 30;
  const HOLD_MS = 350;
  const DOUBLE_TAP_MS = 300;
  const SLOW_RATE = 0.25;

  let state = null;
  let recordings = [];
  let cleanup = [];

  // ---- small helpers -----------------------------------------------------------------

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === false || value === null || value === undefined) continue;
      if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else if (key === "text") node.textContent = value;
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child !== null && child !== undefined) {
        node.append(typeof child === "string" ? document.createTextNode(child) : child);
      }
    }
    return node;
  }

  function svg(tag, attrs, ...children) {
    const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
    for (const child of children) {
      node.append(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }

  async function api(method, path, body) {
    const options = { method, credentials: "same-origin", headers: {} };
    if (method !== "GET") Object.assign(options.headers, CHANGE);
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path, options);
    } catch (err) {
      throw { error: S.offline, reason: "offline" };
    }
    const data = await response.json().catch(() => null);
    if (!response.ok) throw data || { error: S.offline, reason: "offline" };
    return data;
  }

  function problem(text) {
    problemBox.textContent = text || "";
    problemBox.hidden = !text;
  }

  function pad(n) { return String(n).padStart(2, "0"); }

  function localTime(date) {
    return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
      `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
  }

  function duration(seconds) {
    const s = Math.round(seconds);
    return `${Math.floor(s / 60)}:${pad(s % 60)}`;
  }

  function leave() {
    for (const fn of cleanup.splice(0)) fn();
  }

  // ---- the watermark -------------------------------------------------------------------

  // Solid white text with a black edge, drawn twice (top right, across the middle) on every
  // frame: the first 12 characters of the user ID and the time of viewing.
  function watermarkText() {
    return `${state ? state.watermark_id : ""} ${localTime(new Date())}`;
  }

  function drawWatermark(ctx, text, width, height, edge = true) {
    const size = Math.max(12, Math.round(height * 0.055));
    ctx.save();
    ctx.font = `bold ${size}px sans-serif`;
    ctx.lineJoin = "round";
    ctx.lineWidth = Math.max(2, size * 0.18);
    ctx.strokeStyle = "#000";
    ctx.fillStyle = "#fff";
    const spots = [
      ["right", "top", width - size * 0.6, size * 0.5],
      ["center", "middle", width / 2, height * 0.62],
    ];
    for (const [align, baseline, x, y] of spots) {
      ctx.textAlign = align;
      ctx.textBaseline = baseline;
      if (edge) ctx.strokeText(text, x, y);
      ctx.fillText(text, x, y);
    }
    ctx.restore();
  }

  function drawFrame(canvas, video) {
    const ctx = canvas.getContext("2d");
    const w = canvas.width;
    const h = canvas.height;
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, w, h);
    if (video.videoWidth) {
      const scale = Math.min(w / video.videoWidth, h / video.videoHeight);
      const vw = video.videoWidth * scale;
      const vh = video.videoHeight * scale;
      ctx.drawImage(video, (w - vw) / 2, (h - vh) / 2, vw, vh);
    }
    const text = watermarkText();
    drawWatermark(ctx, text, w, h);
    if (canvas.dataset.watermark !== text) canvas.dataset.watermark = text;
  }

  // Draw the video on the canvas for as long as the view is open.
  function paintLoop(canvas, video) {
    let running = true;
    const tick = () => {
      if (!running) return;
      drawFrame(canvas, video);
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
    cleanup.push(() => { running = false; });
  }

  // The watermark's drawing, for checks that compare pixels.
  window.bwaWatermark = { draw: drawWatermark, text: watermarkText };

  // ---- routing -------------------------------------------------------------------------

  async function route() {
    leave();
    problem("");
    try {
      state = await api("GET", "/api/state");
    } catch (err) {
      problem(err.error);
      return;
    }
    if (!state.paired) {
      tabs.hidden = true;
      backButton.hidden = true;
      renderPair();
      return;
    }
    tabs.hidden = false;
    if (state.camera_problem) problem(state.camera_problem.error);
    const hash = location.hash || "#/recordings";
    for (const tab of tabs.querySelectorAll("a")) {
      tab.classList.toggle("active", hash.startsWith(tab.getAttribute("href")));
    }
    backButton.hidden = !hash.startsWith("#/recording/");
    if (hash.startsWith("#/recording/")) {
      await renderPlayer(decodeURIComponent(hash.slice("#/recording/".length)));
    } else if (hash === "#/live") {
      renderLive();
    } else {
      await renderRecordings();
    }
  }

  window.addEventListener("hashchange", route);
  backButton.addEventListener("click", () => { location.hash = "#/recordings"; });

  // ---- pairing -------------------------------------------------------------------------

  function renderPair() {
    title.textContent = S.pair_title;
    const code = el("textarea", { id: "pair-code", rows: "3", autocomplete: "off",
                                  spellcheck: "false", "aria-label": S.paste_label });
    const pin = el("input", { id: "pin", type: "text", inputmode: "numeric",
                              autocomplete: "one-time-code", maxlength: "6",
                              pattern: "[0-9]{6}" });
    const pinPart = el("section", { class: "card", id: "pin-step", hidden: !state.code_scanned },
      el("p", { text: S.code_ok }),
      el("p", { class: "muted", text: S.pin_intro }),
      el("label", { for: "pin", text: S.pin_label }), pin,
      el("button", { type: "button", id: "pair", onclick: async () => {
        problem("");
        try {
          await api("POST", "/api/pairing/pin", { pin: pin.value });
          location.hash = "#/recordings";
          await route();
          problem("");
          const done = el("p", { class: "notice", id: "paired", text: S.paired });
          view.prepend(done);
        } catch (err) { problem(err.error); }
      } }, S.pair));
    const useCode = async (text) => {
      problem("");
      try {
        state = await api("POST", "/api/pairing/code", { code: text });
        pinPart.hidden = false;
        pin.focus();
      } catch (err) { problem(err.error); }
    };
    const scanPart = el("div", { id: "scan" });
    const canScan = "BarcodeDetector" in window && !!navigator.mediaDevices;
    if (canScan) {
      scanPart.append(el("button", { type: "button", id: "scan-start",
                                     onclick: () => scan(scanPart, useCode) }, S.scan));
    }
    view.replaceChildren(
      el("section", { class: "card" },
        el("p", { text: S.pair_intro }),
        scanPart,
        el("label", { for: "pair-code", text: canScan ? S.paste_label : S.paste_only }), code,
        el("button", { type: "button", id: "use-code", class: "secondary",
                       onclick: () => useCode(code.value) }, S.use_code)),
      pinPart);
  }

  async function scan(where, done) {
    const video = el("video", { playsinline: true, muted: true, class: "scanner" });
    const stop = el("button", { type: "button", class: "secondary" }, S.scan_stop);
    where.replaceChildren(video, stop);
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
    } catch (err) {
      problem(String(err && err.message || err));
      return;
    }
    video.srcObject = stream;
    await video.play();
    const detector = new window.BarcodeDetector({ formats: ["qr_code"] });
    let live = true;
    const finish = () => { live = false; stream.getTracks().forEach((t) => t.stop()); };
    stop.addEventListener("click", finish);
    cleanup.push(finish);
    while (live) {
      const found = await detector.detect(video).catch(() => []);
      if (found.length) {
        finish();
        where.replaceChildren();
        await done(found[0].rawValue);
        return;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  document.getElementById("new-pairing").addEventListener("click", () => {
    if (!state || !state.paired) { renderPair(); return; }
    leave();
    title.textContent = S.replace_title;
    view.replaceChildren(el("section", { class: "card", id: "replace" },
      el("p", { text: S.replace_confirm }),
      el("div", { class: "row" },
        el("button", { type: "button", id: "replace-yes", onclick: async () => {
          try {
            state = await api("DELETE", "/api/pairing");
            location.hash = "";
            tabs.hidden = true;
            problem("");
            renderPair();
          } catch (err) { problem(err.error); }
        } }, S.replace_yes),
        el("button", { type: "button", class: "secondary", id: "replace-no",
                       onclick: () => route() }, S.cancel))));
  });

  // ---- recordings ----------------------------------------------------------------------

  async function loadRecordings(list) {
    list.replaceChildren(el("p", { class: "muted", text: S.loading }));
    try {
      recordings = await api("GET", "/api/recordings");
      problem("");
    } catch (err) {
      recordings = [];
      list.replaceChildren();
      problem(err.error);
      return;
    }
    if (!recordings.length) {
      list.replaceChildren(el("p", { class: "muted", id: "no-recordings", text: S.no_recordings }));
      return;
    }
    list.replaceChildren(...recordings.map((r) => el("a", {
      class: "recording", href: `#/recording/${encodeURIComponent(r.id)}`,
      "data-id": r.id },
      el("strong", { text: localTime(new Date(r.started_at)) }),
      el("span", { class: "muted", text: ` ${duration(r.duration_s)}` }),
      r.category ? el("span", { class: "badge", text: r.category }) : null)));
  }

  async function renderRecordings() {
    title.textContent = S.recordings;
    const list = el("div", { id: "recordings", class: "list" });
    const puller = el("div", { class: "puller", id: "puller", text: S.pull });
    const refresh = el("button", { type: "button", class: "secondary", id: "refresh",
                                   onclick: () => loadRecordings(list) }, S.refresh);
    view.replaceChildren(puller, el("div", { class: "row" }, refresh), list);
    pullToRefresh(view, puller, () => loadRecordings(list));
    await loadRecordings(list);
  }

  // Pull down at the top of the list to load it again.
  function pullToRefresh(area, puller, reload) {
    let startY = null;
    let pulled = 0;
    const THRESHOLD = 70;
    const down = (e) => {
      if (window.scrollY > 0) return;
      startY = e.touches[0].clientY;
      pulled = 0;
    };
    const move = (e) => {
      if (startY === null) return;
      pulled = Math.max(0, e.touches[0].clientY - startY);
      puller.style.height = `${Math.min(pulled, THRESHOLD * 1.4)}px`;
      puller.textContent = pulled >= THRESHOLD ? S.release : S.pull;
      puller.classList.toggle("open", pulled > 4);
    };
    const up = () => {
      if (startY === null) return;
      startY = null;
      puller.style.height = "";
      puller.classList.remove("open");
      puller.textContent = S.pull;
      if (pulled >= THRESHOLD) reload();
    };
    area.addEventListener("touchstart", down, { passive: true });
    area.addEventListener("touchmove", move, { passive: true });
    area.addEventListener("touchend", up);
    cleanup.push(() => {
      area.removeEventListener("touchstart", down);
      area.removeEventListener("touchmove", move);
      area.removeEventListener("touchend", up);
    });
  }

  // ---- the player ----------------------------------------------------------------------

  async function renderPlayer(id) {
    let recording = recordings.find((r) => r.id === id);
    if (!recording) {
      try {
        recordings = await api("GET", "/api/recordings");
      } catch (err) { problem(err.error); return; }
      recording = recordings.find((r) => r.id === id);
    }
    if (!recording) { location.hash = "#/recordings"; return; }
    title.textContent = localTime(new Date(recording.started_at));
    const canvas = el("canvas", { id: "player-canvas", width: "640", height: "360",
                                  class: "screen", "aria-label": S.play });
    const video = el("video", { id: "player-video", class: "source", playsinline: true,
                                preload: "auto", disablepictureinpicture: true,
                                disableremoteplayback: true,
                                controlslist: "nodownload noremoteplayback noplaybackrate" });
    let clip = 0;
    const clipLabel = el("span", { class: "muted", id: "clip-label" });
    const timeLabel = el("span", { id: "time-label" });
    const slowLabel = el("span", { class: "badge", id: "slow-label", hidden: true,
                                   text: S.slow });
    const load = (index) => {
      clip = index;
      video.src = recording.clips[index].media;
      clipLabel.textContent = recording.clips.length > 1
        ? `${S.clip} ${index + 1} ${S.of} ${recording.clips.length}` : "";
    };
    video.addEventListener("ended", () => {
      if (clip + 1 < recording.clips.length) { load(clip + 1); video.play(); }
    });
    video.addEventListener("timeupdate", () => {
      timeLabel.textContent = `${duration(video.currentTime)} / ${duration(video.duration || 0)}`;
    });
    const playButton = el("button", { type: "button", id: "play" }, S.play);
    const toggle = () => { if (video.paused) video.play(); else video.pause(); };
    video.addEventListener("play", () => { playButton.textContent = S.pause; });
    video.addEventListener("pause", () => { playButton.textContent = S.play; });
    playButton.addEventListener("click", toggle);
    const step = (frames) => {
      video.pause();
      const end = Number.isFinite(video.duration) ? video.duration : video.currentTime;
      video.currentTime = Math.min(end, Math.max(0, video.currentTime + frames * FRAME));
    };
    const slow = (on) => {
      video.playbackRate = on ? SLOW_RATE : 1;
      slowLabel.hidden = !on;
      if (on && video.paused) video.play();
    };
    gestures(canvas, { toggle, step, slow, info: () => openInfo() });

    const info = infoSheet(recording);
    const openInfo = () => info.open();
    view.replaceChildren(
      el("div", { class: "player" }, canvas, video, slowLabel),
      el("div", { class: "controls" },
        el("button", { type: "button", id: "frame-back", class: "secondary",
                       "aria-label": S.frame_back, onclick: () => step(-1) }, "|◀"),
        playButton,
        el("button", { type: "button", id: "frame-forward", class: "secondary",
                       "aria-label": S.frame_forward, onclick: () => step(1) }, "▶|"),
        el("button", { type: "button", id: "slow", class: "secondary", "aria-pressed": "false",
                       onclick: (e) => {
                         const on = video.playbackRate === 1;
                         slow(on);
                         e.currentTarget.setAttribute("aria-pressed", String(on));
                       } }, S.slow)),
      el("p", { class: "row" }, timeLabel, clipLabel),
      el("p", { class: "muted small", text: S.help_gestures }),
      el("button", { type: "button", id: "info-open", class: "secondary",
                     onclick: openInfo }, S.information),
      info.status,
      info.node);
    load(0);
    paintLoop(canvas, video);
    cleanup.push(() => { video.pause(); video.removeAttribute("src"); video.load(); });
  }

  // Double-tap right / left: a frame forward / back. Press and hold: slow motion.
  // A single tap plays or pauses; a swipe up opens the information.
  function gestures(canvas, on) {
    let holdTimer = null;
    let holding = false;
    let lastTap = 0;
    let tapTimer = null;
    let startY = 0;
    canvas.addEventListener("contextmenu", (e) => e.preventDefault());
    canvas.addEventListener("pointerdown", (e) => {
      startY = e.clientY;
      holding = false;
      holdTimer = setTimeout(() => { holding = true; on.slow(true); }, HOLD_MS);
    });
    const release = (e) => {
      clearTimeout(holdTimer);
      if (holding) { holding = false; on.slow(false); return; }
      if (e.type !== "pointerup") return;
      if (startY - e.clientY > 60) { on.info(); return; }
      const now = Date.now();
      const rect = canvas.getBoundingClientRect();
      if (now - lastTap < DOUBLE_TAP_MS) {
        clearTimeout(tapTimer);
        lastTap = 0;
        on.step(e.clientX - rect.left > rect.width / 2 ? 1 : -1);
        return;
      }
      lastTap = now;
      tapTimer = setTimeout(() => on.toggle(), DOUBLE_TAP_MS);
    };
    canvas.addEventListener("pointerup", release);
    canvas.addEventListener("pointercancel", release);
    canvas.addEventListener("pointerleave", release);
  }

  // ---- information: category, notes, location ------------------------------------------

  function infoSheet(recording) {
    const camera = state.camera || {};
    const node = el("section", { class: "sheet", id: "info", hidden: true, role: "dialog",
                                 "aria-label": S.information });
    const facts = el("dl", { class: "facts" },
      el("dt", { text: S.start }), el("dd", { text: localTime(new Date(recording.started_at)) }),
      el("dt", { text: S.duration }), el("dd", { text: duration(recording.duration_s) }),
      el("dt", { text: S.trigger }), el("dd", { text: recording.trigger }));
    let select = null;
    let notes = null;
    const parts = [el("h2", { text: S.information }), facts];
    if (camera.annotations) {
      select = el("select", { id: "category" },
        el("option", { value: "", text: S.no_category }),
        ...(camera.categories || []).map((c) => el("option", { value: c, text: c,
                                                                selected: c === recording.category })));
      notes = el("textarea", { id: "notes", rows: "4", maxlength: String(state.max_notes) });
      notes.value = recording.notes || "";
      parts.push(el("label", { for: "category", text: S.category }), select,
                 el("label", { for: "notes", text: S.notes }), notes);
    } else {
      parts.push(el("p", { class: "muted", id: "no-annotations", text: S.no_annotations }));
    }
    parts.push(el("h3", { text: S.location }), trackMap(recording.track));
    const status = el("p", { class: "notice", id: "saved", hidden: true, text: S.saved });
    const close = async () => {
      // Leaving the information view saves what changed (as the user guide says).
      if (select && (select.value !== (recording.category || "") ||
                     notes.value !== (recording.notes || ""))) {
        try {
          const done = await api("PUT",
            `/api/recordings/${encodeURIComponent(recording.id)}/annotation`,
            { category: select.value || null, notes: notes.value });
          Object.assign(recording, done);
          status.hidden = false;
        } catch (err) { problem(err.error); }
      }
      node.hidden = true;
    };
    parts.push(el("button", { type: "button", id: "info-close", onclick: close }, S.close));
    node.append(...parts);
    return { node, status, open: () => { status.hidden = true; node.hidden = false; } };
  }

  // The track on a map drawn from its own coordinates (no tiles: works offline).
  function trackMap(track) {
    if (!track || !track.length) return el("p", { class: "muted", text: S.no_location });
    const W = 320;
    const H = 200;
    const M = 24;
    const lat0 = track.reduce((a, p) => a + p.latitude, 0) / track.length;
    const kx = Math.cos((lat0 * Math.PI) / 180);
    const xs = track.map((p) => p.longitude * kx);
    const ys = track.map((p) => p.latitude);
    const span = Math.max(Math.max(...xs) - Math.min(...xs), Math.max(...ys) - Math.min(...ys),
                          0.0005);
    const scale = Math.min(W - 2 * M, H - 2 * M) / span;
    // The track in the middle of the map, north up.
    const cx = (Math.min(...xs) + Math.max(...xs)) / 2;
    const cy = (Math.min(...ys) + Math.max(...ys)) / 2;
    const X = (x) => W / 2 + (x - cx) * scale;
    const Y = (y) => H / 2 - (y - cy) * scale;
    const points = track.map((p, i) => `${X(xs[i]).toFixed(1)},${Y(ys[i]).toFixed(1)}`).join(" ");
    const metresPerUnit = 111320;
    let bar = 10;
    while (bar * 2 * scale / metresPerUnit < W / 4) bar *= 2;
    const barPx = (bar * scale) / metresPerUnit;
    const last = track.length - 1;
    const map = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "map", id: "track-map",
                             role: "img", "aria-label": S.location },
      svg("rect", { x: "0", y: "0", width: String(W), height: String(H), class: "map-bg" }),
      svg("polyline", { points, class: "map-track" }),
      svg("circle", { cx: X(xs[0]).toFixed(1), cy: Y(ys[0]).toFixed(1), r: "6",
                      class: "map-start" }, svg("title", {}, S.start)),
      svg("rect", { x: (X(xs[last]) - 6).toFixed(1), y: (Y(ys[last]) - 6).toFixed(1),
                    width: "12", height: "12", class: "map-stop" }, svg("title", {}, S.stop)),
      svg("line", { x1: String(M), y1: String(H - 8), x2: (M + barPx).toFixed(1),
                    y2: String(H - 8), class: "map-scale" }),
      svg("text", { x: String(M), y: String(H - 12), class: "map-label" },
          bar >= 1000 ? `${bar / 1000} km` : `${bar} m`),
      svg("text", { x: String(W - 14), y: "18", class: "map-label" }, "N"));
    const first = track[0];
    const end = track[last];
    return el("figure", { class: "map-box" }, map,
      el("figcaption", { class: "small muted",
        text: `${S.start} ${first.latitude.toFixed(5)}, ${first.longitude.toFixed(5)} · ` +
              `${S.stop} ${end.latitude.toFixed(5)}, ${end.longitude.toFixed(5)}` }));
  }

  // ---- live view -----------------------------------------------------------------------

  function renderLive() {
    title.textContent = S.live;
    const canvas = el("canvas", { id: "live-canvas", width: "640", height: "360",
                                  class: "screen", "aria-label": S.live });
    const video = el("video", { id: "live-video", class: "source", playsinline: true,
                                muted: true, disablepictureinpicture: true,
                                disableremoteplayback: true });
    video.muted = true;
    view.replaceChildren(el("div", { class: "player" }, canvas, video),
                         el("p", { class: "muted", text: S.live_hint }));
    canvas.addEventListener("contextmenu", (e) => e.preventDefault());
    const abort = new AbortController();
    const source = new MediaSource();
    const url = URL.createObjectURL(source);
    video.src = url;
    cleanup.push(() => {
      abort.abort();
      video.pause();
      video.removeAttribute("src");
      video.load();
      URL.revokeObjectURL(url);
    });
    paintLoop(canvas, video);
    source.addEventListener("sourceopen", async () => {
      let response;
      try {
        response = await fetch("/media/live", { credentials: "same-origin",
                                                signal: abort.signal });
      } catch (err) { return; }
      if (!response.ok) {
        const data = await response.json().catch(() => ({ error: S.live_stopped }));
        problem(data.error);
        return;
      }
      const codec = response.headers.get("X-Bodyworn-Codec") || "avc1.42e01e";
      const buffer = source.addSourceBuffer(`video/mp4; codecs="${codec}"`);
      const queue = [];
      const feed = () => {
        if (buffer.updating || !queue.length || source.readyState !== "open") return;
        buffer.appendBuffer(queue.shift());
      };
      buffer.addEventListener("updateend", () => {
        // Stay at the live edge: play what just arrived, not what is buffered behind it.
        const ranges = video.buffered;
        if (ranges.length) {
          const end = ranges.end(ranges.length - 1);
          if (end - video.currentTime > 0.5) video.currentTime = Math.max(0, end - 0.1);
          if (ranges.start(0) < end - 30 && !buffer.updating) {
            buffer.remove(0, end - 10);
            return;
          }
        }
        if (video.paused) video.play().catch(() => {});
        feed();
      });
      const reader = response.body.getReader();
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          queue.push(value);
          feed();
        }
        problem(S.live_stopped);
      } catch (err) {
        if (!abort.signal.aborted) problem(S.live_stopped);
      }
    }, { once: true });
  }

  // ---- start ---------------------------------------------------------------------------

  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/sw.js").catch(() => {});
  }
  route();
})();
