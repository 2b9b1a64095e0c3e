/* Shaping Lab: the participant's game screen.
 *
 * Vanilla JS, no libraries, no build step. One shared core and one renderer per game.
 *
 * The core owns the websocket (webapp/play/protocol.py, docs/protocol.md):
 *   server -> client  {type: "state"}   everything needed to draw the game from scratch; sent on
 *                                        every (re)connect, on {"type": "sync"}, and when another
 *                                        tab of the same participant records a trial
 *                     {type: "result"}  the outcome of a choice (duplicate: true for a repeat)
 *                     {type: "error"}   code, message, expected_trial
 *   client -> server  {type: "choice", trial, practice, choice, rt_ms} and {type: "sync"}
 *
 * Rules the core keeps:
 * - The screen is redrawn entirely from each `state`; nothing is carried over but the one choice
 *   that is waiting for its result (`pending`).
 * - A choice is never lost: if the socket drops before its result, it is sent again, with the same
 *   trial index and reaction time, after the reconnect, but only when the new `state` says that
 *   trial is still the current one. (If it was recorded, the state shows it in `history`.) A
 *   `server_error` (the server's database is briefly away) is handled the same way: the page
 *   shows that it is retrying, reconnects after a back-off and lets the fresh state decide.
 * - One choice at a time: controls are disabled from sending until the result has been shown.
 *   They are marked aria-disabled rather than `disabled`, so that keyboard focus stays on the
 *   button just used instead of falling back to the page; presses on them are ignored.
 * - rt_ms is the time since the trial was shown (performance.now()); go/no-go measures it itself
 *   from the frame the stimulus was painted.
 * - A trial is named by its index and its block: a study may open with practice trials
 *   (`practice` on `current`), numbered from 0 like the game's. They earn nothing and are not part
 *   of `history`.
 * - Pauses are the page's own: after every `break_every` trials of the game, and after the
 *   practice, a screen waits for "Continue" before the next trial. The server is not told; a
 *   reload during a pause shows it again, at the same trial.
 */
(function () {
  "use strict";

  var root = document.getElementById("game");
  if (!root) return;
  var screen = document.getElementById("game-screen");
  var banner = document.getElementById("connection-banner");
  var errorBox = document.getElementById("game-error");

  var MAX_RT_MS = 3600000; // the server rejects larger reaction times (protocol.MAX_REACTION_TIME_MS)
  var RESULT_TIMEOUT_MS = 15000; // no result for this long: assume the socket is dead, reconnect
  var BACKOFF_BASE_MS = 500;
  var BACKOFF_MAX_MS = 15000;
  var DONE_DELAY_MS = 1800; // let the last result be seen before going to the debrief

  // ---- small helpers ------------------------------------------------------------------------

  function h(tag, attrs) {
    var el = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (key) {
        var value = attrs[key];
        if (value === null || value === undefined || value === false) return;
        if (key === "text") el.textContent = value;
        else if (key === "className") el.className = value;
        else if (key.slice(0, 2) === "on") el.addEventListener(key.slice(2), value);
        else el.setAttribute(key, value === true ? "" : value);
      });
    }
    for (var i = 2; i < arguments.length; i++) {
      var child = arguments[i];
      if (child === null || child === undefined || child === false) continue;
      if (Array.isArray(child)) child.forEach(function (c) { if (c) el.appendChild(c); });
      else el.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return el;
  }

  var numberFormat = new Intl.NumberFormat(document.documentElement.lang || undefined,
                                           { maximumFractionDigits: 2 });

  function fmt(x) {
    if (x === null || x === undefined || isNaN(x)) return "–";
    return numberFormat.format(Number(x));
  }

  function pointsWord(x) {
    return Number(x) === 1 ? "point" : "points";
  }

  function summaryList(pairs) {
    return h("dl", { className: "round-summary" }, pairs.map(function (pair) {
      return h("div", null, h("dt", { text: pair[0] }), h("dd", { text: pair[1] }));
    }));
  }

  /** Mark a control usable or not without taking keyboard focus off it. */
  function setUsable(el, on) {
    if (!el) return;
    el.setAttribute("aria-disabled", on ? "false" : "true");
    el.classList.toggle("is-disabled", !on);
  }

  function usable(el) {
    return el && el.getAttribute("aria-disabled") !== "true";
  }

  function isTypingTarget(target) {
    if (!target || !target.tagName) return false;
    var tag = target.tagName.toLowerCase();
    return tag === "input" || tag === "textarea" || tag === "select" || target.isContentEditable;
  }

  // ---- the shared core ------------------------------------------------------------------------

  var core = {
    game: root.getAttribute("data-game"),
    path: root.getAttribute("data-ws-path"),
    ws: null,
    attempt: 0,
    retryTimer: null,
    resultTimer: null,
    finished: false, // done, or a close that must not be retried
    state: null, // the last `state` message, with results applied since
    trial: null, // index of the trial to answer now
    practice: false, // whether that trial is a practice trial
    cue: {},
    points: 0,
    pending: null, // {trial, practice, choice, rt_ms}: sent (or to send), no result yet
    ready: false, // may the participant choose now?
    shownAt: 0,
    holdTimer: null,
    paused: false, // a break (or the end of the practice) is on screen
    pauseSeenAt: null, // the trial whose pause was dismissed with Continue
    renderer: null,
    ui: {},

    url: function () {
      var scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
      return scheme + "//" + window.location.host + this.path;
    },

    connect: function () {
      var self = this;
      if (this.finished) return;
      window.clearTimeout(this.retryTimer);
      this.retryTimer = null;
      var ws;
      try {
        ws = new WebSocket(this.url());
      } catch (e) {
        this.scheduleReconnect();
        return;
      }
      this.ws = ws;
      ws.onmessage = function (event) {
        if (self.ws !== ws) return;
        var message;
        try {
          message = JSON.parse(event.data);
        } catch (e) {
          return;
        }
        self.dispatch(message);
      };
      ws.onclose = function (event) {
        if (self.ws !== ws) return;
        self.ws = null;
        self.onClose(event);
      };
    },

    /** Detach the current socket (its late messages and close are ignored) and close it. */
    forgetSocket: function (code) {
      var ws = this.ws;
      this.ws = null;
      if (ws) {
        ws.onmessage = ws.onclose = null;
        try { ws.close(code); } catch (e) { /* already closed */ }
      }
    },

    /** The server could not serve us just now: close, and reconnect after a back-off. The choice
     *  waiting for its result stays in `pending`; the state after reconnecting decides. */
    retryLater: function () {
      this.forgetSocket();
      window.clearTimeout(this.resultTimer);
      this.setConnected(false);
      this.scheduleReconnect();
    },

    /** Forget a socket that may be half-open and start a fresh one now. */
    dropSocket: function () {
      this.forgetSocket();
      this.setConnected(false);
      this.connect();
    },

    onClose: function (event) {
      window.clearTimeout(this.resultTimer);
      if (this.finished) return;
      if (event.code === 4404) {
        this.finished = true;
        this.setConnected(false, true);
        this.showError("This game link is not valid. Please use the link you were given to take part.");
        return;
      }
      if (event.code === 4429) {
        this.finished = true;
        this.setConnected(false, true);
        this.showError("Too many messages were sent from this page. Please wait a minute, then reload the page.");
        return;
      }
      if (event.code === 4409) {
        // The participant is not at the playing step (yet, or any more): the page knows where.
        this.finished = true;
        window.location.reload();
        return;
      }
      this.setConnected(false);
      this.scheduleReconnect();
    },

    scheduleReconnect: function () {
      var self = this;
      if (this.finished || this.retryTimer) return;
      var delay = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * Math.pow(2, this.attempt));
      delay = Math.round(delay * (0.8 + Math.random() * 0.4));
      this.attempt += 1;
      this.retryTimer = window.setTimeout(function () {
        self.retryTimer = null;
        self.connect();
      }, delay);
    },

    reconnectNow: function () {
      if (this.finished || this.ws) return;
      this.attempt = 0;
      this.connect();
    },

    setConnected: function (connected, quiet) {
      root.classList.toggle("is-offline", !connected);
      if (connected) {
        banner.hidden = true;
        banner.textContent = "";
        return;
      }
      this.setReady(false);
      if (quiet) return;
      banner.textContent = this.attempt >= 3
        ? "Reconnecting… Please check your internet connection. Your progress is saved."
        : "Reconnecting…";
      banner.hidden = false;
    },

    showError: function (text, detail) {
      errorBox.textContent = "";
      errorBox.appendChild(h("p", { text: text }));
      if (detail) errorBox.appendChild(h("p", { className: "hint", text: "Technical details (for the research team): " + detail }));
      errorBox.hidden = false;
    },

    clearError: function () {
      errorBox.hidden = true;
      errorBox.textContent = "";
    },

    send: function (message) {
      if (this.ws && this.ws.readyState === WebSocket.OPEN) {
        this.ws.send(JSON.stringify(message));
        return true;
      }
      return false;
    },

    dispatch: function (message) {
      if (message.type === "state") this.onState(message);
      else if (message.type === "result") this.onResult(message);
      else if (message.type === "error") this.onError(message);
    },

    // -- state: redraw everything ------------------------------------------------------------

    onState: function (state) {
      this.attempt = 0;
      this.setConnected(true);
      window.clearTimeout(this.holdTimer);
      this.state = state;
      this.points = state.points;
      if (state.done || !state.current) {
        this.pending = null;
        this.finish(state.debrief_url, 0);
        return;
      }
      this.setCurrent(state.current);
      var resend = this.isPending(this.trial, this.practice);
      if (!resend) this.pending = null; // recorded already (it is in the history) or stale
      this.drawFrame();
      this.renderer.draw(state, { resending: resend });
      if (resend) {
        this.setReady(false);
        this.transmit();
      } else {
        this.beginTrial(false);
      }
    },

    setCurrent: function (current) {
      this.trial = current.trial;
      this.practice = !!current.practice;
      this.cue = current.cue || {};
    },

    isPending: function (trial, practice) {
      return !!this.pending && this.pending.trial === trial && this.pending.practice === !!practice;
    },

    // -- result: show the outcome, then move on ------------------------------------------------

    onResult: function (result) {
      var mine = this.isPending(result.trial, result.practice);
      if (!mine && (this.trial === null || result.trial !== this.trial || !!result.practice !== this.practice)) {
        return; // a late answer for a trial the screen has already moved past
      }
      window.clearTimeout(this.resultTimer);
      this.pending = null;
      this.clearError();
      this.points = result.points;
      var history = this.state.history;
      if (!result.practice && (!history.length || history[history.length - 1].trial < result.feedback.trial)) {
        history.push(result.feedback);
      }
      this.state.points = result.points;
      this.updateTotal();
      var hold = this.renderer.showResult(result.feedback, result.done);
      if (result.done || !result.next) {
        this.trial = null;
        this.finish(result.debrief_url, Math.max(hold, DONE_DELAY_MS));
        return;
      }
      var self = this;
      this.setCurrent(result.next);
      if (!this.practice) this.state.trial = this.trial;
      this.state.current = result.next;
      this.holdTimer = window.setTimeout(function () {
        self.updateProgress();
        self.beginTrial(true);
      }, hold);
    },

    // -- pauses: a break every `break_every` trials, and the end of the practice ---------------

    /** Make the current trial answerable, after the pause due before it, if any. */
    beginTrial: function (afterResult) {
      var pause = this.pauseDue();
      if (pause) this.showPause(pause);
      else this.renderer.begin(afterResult);
    },

    pauseDue: function () {
      if (this.practice || this.trial === null || this.pauseSeenAt === this.trial) return null;
      if (this.trial === 0) return this.state.practice_trials > 0 ? "practice-over" : null;
      var every = this.state.break_every;
      return every > 0 && this.trial % every === 0 ? "break" : null;
    },

    showPause: function (kind) {
      var self = this;
      this.paused = true;
      this.setReady(false);
      var title, text;
      if (kind === "break") {
        var n = this.state.trials;
        title = "Time for a short break";
        text = "You have played " + this.trial + (n ? " of " + n : "") + " " + this.unit().toLowerCase() +
          "s. Take a short rest, then press Continue to go on.";
      } else {
        title = "The practice is over";
        text = "From now on the game counts: every " + this.unit().toLowerCase() + " can earn points. " +
          "Press Continue when you are ready.";
      }
      var button = h("button", { type: "button", className: "button button-primary", id: "pause-continue",
                                  text: "Continue", onclick: function () { self.endPause(); } });
      this.ui.pause = h("section", { className: "game-pause", id: "game-pause", "aria-labelledby": "pause-title" },
        h("h2", { id: "pause-title", text: title }), h("p", { text: text }), button);
      this.ui.body.hidden = true;
      screen.appendChild(this.ui.pause);
      this.ui.note.textContent = title + ".";
      button.focus();
    },

    endPause: function () {
      if (!this.paused) return;
      this.paused = false;
      this.pauseSeenAt = this.trial;
      this.ui.pause.remove();
      this.ui.body.hidden = false;
      this.renderer.begin(true);
    },

    onError: function (error) {
      var friendly = {
        wrong_trial: "The game had moved on since your last choice; the screen has been brought up to date.",
        game_over: "The game is already over.",
        rate_limited: "Please wait a moment before choosing again.",
        wrong_phase: "The game has not started yet.",
        invalid_choice: "That choice could not be accepted. Please try again.",
      }[error.code] || "Something went wrong. Please try again.";
      if (error.code === "server_error") {
        this.retryLater(); // the banner says "Reconnecting…"; the choice is kept and resent
        return;
      }
      if (error.code === "timed_out" || error.code === "study_closed") {
        // The participation has ended: the participant's page says how, and what happens now.
        this.finished = true;
        this.setReady(false);
        this.forgetSocket(1000);
        window.location.assign(window.location.pathname);
        return;
      }
      this.showError(friendly, error.message);
      window.clearTimeout(this.resultTimer);
      if (error.code === "wrong_phase") return; // the server closes (4409); the page reloads
      // Whatever went wrong, the server's trial table is the truth: forget the choice and redraw.
      this.pending = null;
      if (!this.send({ type: "sync" })) this.dropSocket();
    },

    finish: function (url, delay) {
      this.finished = true;
      this.setReady(false);
      window.clearTimeout(this.retryTimer);
      window.clearTimeout(this.resultTimer);
      var target = url || window.location.pathname;
      this.forgetSocket(1000);
      banner.hidden = true;
      if (this.ui.progress) {
        this.ui.progress.textContent = "Game over";
      }
      if (this.ui.note) {
        this.ui.note.textContent = "The game is over. Taking you to the last page…";
      }
      window.setTimeout(function () {
        window.location.assign(target);
      }, delay);
    },

    // -- choosing ------------------------------------------------------------------------------

    /** The renderer made the current trial answerable: start its clock. */
    trialShown: function (at) {
      this.shownAt = at === undefined ? performance.now() : at;
      this.setReady(true);
    },

    setReady: function (ready) {
      this.ready = ready && !this.pending && !this.finished && !!this.ws &&
        this.ws.readyState === WebSocket.OPEN;
      if (this.renderer) this.renderer.setEnabled(this.ready);
    },

    /** Send a choice for the current trial. rt: omitted = time since shown; null = no response. */
    choose: function (name, rt) {
      if (!this.ready || this.pending || this.trial === null) return false;
      if (rt === undefined) rt = performance.now() - this.shownAt;
      if (rt !== null) {
        rt = Math.round(Math.max(0, rt) * 10) / 10;
        if (rt > MAX_RT_MS) rt = null; // away for over an hour: unknown rather than rejected
      }
      this.pending = { trial: this.trial, practice: this.practice, choice: name, rt_ms: rt };
      this.setReady(false);
      this.transmit();
      return true;
    },

    transmit: function () {
      var self = this;
      var p = this.pending;
      if (!p) return;
      window.clearTimeout(this.resultTimer);
      if (this.send({ type: "choice", trial: p.trial, practice: p.practice, choice: p.choice, rt_ms: p.rt_ms })) {
        this.resultTimer = window.setTimeout(function () {
          if (self.pending === p) self.dropSocket(); // the state after reconnecting decides
        }, RESULT_TIMEOUT_MS);
      }
      // Not connected: the choice waits in `pending` and goes out after the reconnect.
    },

    // -- the frame every game shares ------------------------------------------------------------

    drawFrame: function () {
      screen.textContent = "";
      this.ui.progress = h("p", { className: "game-progress", id: "game-progress" });
      this.ui.total = h("span", { className: "game-total-value" });
      this.ui.note = h("p", { className: "visually-hidden", role: "status", "aria-live": "polite" });
      this.ui.practiceNote = h("p", { className: "game-practice-note", id: "practice-note", hidden: true,
                                      text: "Practice: these trials earn no points." });
      this.ui.body = h("div", { className: "game-body" });
      this.paused = false;
      screen.appendChild(h("div", { className: "game-status" },
        this.ui.progress,
        h("p", { className: "game-total" }, "Your points: ", this.ui.total)));
      screen.appendChild(this.ui.practiceNote);
      screen.appendChild(this.ui.note);
      screen.appendChild(this.ui.body);
      this.updateProgress();
      this.updateTotal();
    },

    unit: function () {
      return (this.game === "ipd" || this.game === "trust") ? "Round" : "Trial";
    },

    updateProgress: function () {
      if (!this.ui.progress || this.trial === null) return;
      var n = this.practice ? this.state.practice_trials : this.state.trials;
      this.ui.progress.textContent = (this.practice ? "Practice " + this.unit().toLowerCase() : this.unit()) +
        " " + (this.trial + 1) + (n ? " of " + n : "");
      this.ui.practiceNote.hidden = !this.practice;
    },

    updateTotal: function () {
      if (this.ui.total) this.ui.total.textContent = fmt(this.points);
    },

    lastFeedback: function () {
      var history = this.state ? this.state.history : [];
      return history.length ? history[history.length - 1] : null;
    },
  };

  // ---- renderers ------------------------------------------------------------------------------
  // Each has: draw(state, {resending}) builds its screen from scratch inside core.ui.body;
  // begin(afterResult) makes the current trial answerable (and calls core.trialShown);
  // showResult(feedback, done) shows a result and returns how long (ms) to hold it;
  // setEnabled(bool); onKey(event) returns true when it used the key.

  function feedbackRegion() {
    return h("div", { className: "feedback", role: "status", "aria-live": "polite", "aria-atomic": "true" });
  }

  // -- Iterated prisoner's dilemma ------------------------------------------------------------

  var IPD_NAMES = { C: "Cooperate", D: "Defect" };

  var ipd = {
    draw: function (state) {
      var self = this;
      this.buttons = {};
      var prompt = h("p", { className: "game-prompt", id: "ipd-prompt", text: "Your choice for this round" });
      var group = h("div", { className: "choices", role: "group", "aria-labelledby": "ipd-prompt" });
      state.screen_order.forEach(function (index) {
        var name = state.actions[index];
        var button = h("button", {
          type: "button",
          className: "choice " + (name === "C" ? "choice-cooperate" : "choice-defect"),
          "aria-keyshortcuts": name,
          onclick: function () { self.pick(name); },
        }, h("span", { text: IPD_NAMES[name] || name }),
           h("span", { className: "key-hint", "aria-hidden": "true" }, "key ", h("kbd", { text: name })));
        self.buttons[name] = button;
        group.appendChild(button);
      });
      this.feedback = feedbackRegion();
      this.totals = h("p", { className: "hint" });
      core.ui.body.append(prompt, group, this.feedback, this.totals);
      var last = core.lastFeedback();
      if (last) this.renderFeedback(last);
      this.renderTotals();
    },

    pick: function (name) {
      if (core.choose(name)) this.buttons[name].classList.add("is-chosen");
    },

    begin: function () {
      Object.keys(this.buttons).forEach(function (k) { this.buttons[k].classList.remove("is-chosen"); }, this);
      core.trialShown();
    },

    renderFeedback: function (f) {
      this.feedback.textContent = "";
      this.feedback.append(
        h("p", { className: "feedback-title", text: "Round " + (f.trial + 1) + " result" }),
        summaryList([
          ["Your choice", IPD_NAMES[f.your_choice] || f.your_choice],
          ["Their choice", IPD_NAMES[f.other_choice] || f.other_choice],
          ["Your points", fmt(f.points)],
          ["Their points", fmt(f.other_points)],
        ]));
    },

    renderTotals: function () {
      var theirs = core.state.history.reduce(function (sum, f) { return sum + (f.other_points || 0); }, 0);
      this.totals.textContent = "Totals so far: you " + fmt(core.points) + ", the other player " + fmt(theirs) + ".";
    },

    showResult: function (f) {
      this.renderFeedback(f);
      this.renderTotals();
      return 500;
    },

    setEnabled: function (on) {
      Object.keys(this.buttons || {}).forEach(function (k) { setUsable(this.buttons[k], on); }, this);
    },

    onKey: function (e) {
      var key = e.key.toUpperCase();
      if (this.buttons[key]) {
        if (usable(this.buttons[key])) this.pick(key);
        return true;
      }
      return false;
    },
  };

  // -- Choice-engineering bandit ------------------------------------------------------------

  var bandit = {
    draw: function (state) {
      var self = this;
      this.buttons = {};
      this.order = state.screen_order.map(function (i) { return state.actions[i]; });
      var prompt = h("p", { className: "game-prompt", id: "bandit-prompt", text: "Open one box" });
      var group = h("div", { className: "choices boxes", role: "group", "aria-labelledby": "bandit-prompt" });
      this.order.forEach(function (name, position) {
        var side = position === 0 ? "Left" : "Right";
        var key = position === 0 ? "F" : "J";
        var result = h("span", { className: "box-result" });
        var button = h("button", {
          type: "button",
          className: "choice",
          "aria-keyshortcuts": key + (position === 0 ? " ArrowLeft" : " ArrowRight"),
          "data-choice": name,
          onclick: function () { self.pick(name); },
        }, h("span", { text: side + " box" }),
           h("span", { className: "key-hint", "aria-hidden": "true" }, "key ", h("kbd", { text: key })),
           result);
        button._result = result;
        self.buttons[name] = button;
        group.appendChild(button);
      });
      this.feedback = feedbackRegion();
      core.ui.body.append(prompt, group, this.feedback);
      var last = core.lastFeedback();
      if (last) this.renderFeedback(last, false);
    },

    pick: function (name) {
      if (core.choose(name)) this.buttons[name].classList.add("is-chosen");
    },

    clearMarks: function () {
      Object.keys(this.buttons).forEach(function (k) {
        var b = this.buttons[k];
        b.classList.remove("is-chosen", "found", "empty");
        b._result.textContent = "";
      }, this);
    },

    begin: function () {
      this.clearMarks();
      core.trialShown();
    },

    sideOf: function (name) {
      return this.order.indexOf(name) === 0 ? "left" : "right";
    },

    renderFeedback: function (f, mark) {
      var found = Number(f.points) > 0;
      if (mark && this.buttons[f.your_choice]) {
        var b = this.buttons[f.your_choice];
        b.classList.add(found ? "found" : "empty");
        b._result.textContent = found ? "+1 point!" : "Empty";
      }
      this.feedback.textContent = "";
      this.feedback.append(h("p", {
        className: found ? "is-good" : "",
        text: "Trial " + (f.trial + 1) + ": you opened the " + this.sideOf(f.your_choice) + " box and " +
          (found ? "found a point." : "it was empty."),
      }));
    },

    showResult: function (f) {
      this.renderFeedback(f, true);
      return 900;
    },

    setEnabled: function (on) {
      Object.keys(this.buttons || {}).forEach(function (k) { setUsable(this.buttons[k], on); }, this);
    },

    onKey: function (e) {
      var position = { f: 0, F: 0, ArrowLeft: 0, j: 1, J: 1, ArrowRight: 1 }[e.key];
      if (position === undefined) return false;
      var name = this.order[position];
      if (usable(this.buttons[name])) this.pick(name);
      return true;
    },
  };

  // -- Go/no-go ----------------------------------------------------------------------------------

  var FIXATION_MS = 500;
  var GNG_FEEDBACK_MS = 400;

  var gonogo = {
    phase: "idle", // idle | gate | fixation | stimulus | waiting | feedback
    timers: [],
    onset: 0,

    draw: function (state, options) {
      var self = this;
      this.cancel();
      this.windowMs = Number(state.params.response_window_ms) || 750;
      this.stage = h("div", { className: "gng-stage", "aria-hidden": "true" });
      this.press = h("button", {
        type: "button",
        className: "gng-press",
        "aria-keyshortcuts": "Space",
        onpointerdown: function (e) {
          if (e.button !== undefined && e.button > 0) return;
          e.preventDefault(); // no focus ring flash, no double tap zoom, no later click
          self.respond(e.timeStamp);
        },
        onclick: function (e) {
          // Keyboard activation of the button (Enter); pointer presses were handled on pointerdown.
          if (e.detail === 0) self.respond(e.timeStamp);
        },
      }, h("span", { text: "Press" }),
         h("span", { className: "key-hint", "aria-hidden": "true" }, "or the ", h("kbd", { text: "space bar" })));
      this.feedback = feedbackRegion();
      core.ui.body.append(this.stage, this.press, this.feedback);
      if (options.resending) this.showMessage("One moment…");
    },

    cancel: function () {
      this.timers.forEach(function (t) { window.clearTimeout(t); });
      this.timers = [];
      this.seq = (this.seq || 0) + 1; // invalidates animation-frame callbacks still queued
      this.phase = "idle";
    },

    later: function (fn, ms) {
      this.timers.push(window.setTimeout(fn, ms));
    },

    showMessage: function (text) {
      this.stage.textContent = "";
      this.stage.appendChild(h("p", { className: "gng-message", text: text }));
    },

    /** After a (re)draw wait for the participant; after a result go straight on. */
    begin: function (afterResult) {
      this.cancel();
      if (afterResult && !document.hidden) {
        this.startTrial();
      } else {
        this.gate();
      }
    },

    gate: function () {
      this.cancel();
      this.phase = "gate";
      this.showMessage("Ready? Press the space bar or tap the button to start.");
      core.ui.note.textContent = "Ready. Press the space bar or the Press button to start.";
      setUsable(this.press, true);
    },

    startTrial: function () {
      var self = this;
      this.cancel();
      var seq = this.seq;
      this.phase = "fixation";
      this.feedback.textContent = "";
      this.stage.textContent = "";
      this.stage.appendChild(h("span", { className: "gng-fixation", text: "+" }));
      setUsable(this.press, true);
      this.later(function () {
        if (document.hidden) {
          self.gate();
          return;
        }
        window.requestAnimationFrame(function () {
          if (self.seq === seq) self.showStimulus(seq);
        });
      }, FIXATION_MS);
    },

    /** Called at the start of a frame: the stimulus drawn now is painted with this frame. Its
     * onset is the start of the next frame (requestAnimationFrame's timestamp), when this frame
     * has been presented; the response window runs from there. */
    showStimulus: function (seq) {
      var self = this;
      if (this.phase !== "fixation") return;
      var kind = core.cue.stimulus === "nogo" ? "nogo" : "go";
      this.stage.textContent = "";
      this.stage.appendChild(h("div", { className: "gng-stimulus " + kind }));
      this.phase = "stimulus";
      this.onset = performance.now(); // provisional, until the next frame says when it was painted
      core.trialShown(this.onset);
      window.requestAnimationFrame(function (painted) {
        if (self.seq !== seq || self.phase !== "stimulus") return;
        if (painted > self.onset) self.onset = painted;
        core.shownAt = self.onset;
        var left = self.windowMs - (performance.now() - self.onset);
        self.later(function () { self.timeout(); }, Math.max(0, left));
      });
    },

    timeout: function () {
      if (this.phase !== "stimulus") return;
      this.phase = "waiting";
      this.stage.textContent = "";
      core.choose("withhold", null);
    },

    respond: function (eventTime) {
      if (this.phase === "gate") {
        if (core.ready || core.ws) this.startTrial();
        return;
      }
      if (this.phase !== "stimulus") return; // anticipations, presses during feedback: ignored
      var now = performance.now();
      // Event timestamps share performance.now()'s clock in current browsers; fall back if not.
      var at = (eventTime && eventTime <= now && eventTime > this.onset - 1000) ? eventTime : now;
      this.cancel();
      this.phase = "waiting";
      this.stage.textContent = "";
      core.choose("respond", at - this.onset);
    },

    showResult: function (f) {
      this.cancel();
      this.phase = "feedback";
      var correct = !!f.correct;
      var text = correct ? "Correct" : (f.stimulus === "nogo" ? "Error: that was a red square" : "Error: too slow");
      this.stage.textContent = "";
      this.stage.appendChild(h("p", { className: "gng-message " + (correct ? "is-good" : "is-bad"), text: text }));
      this.feedback.textContent = "";
      this.feedback.appendChild(h("p", { text: (core.practice ? "Practice trial " : "Trial ") + (f.trial + 1) + ": " +
        text + "." }));
      return GNG_FEEDBACK_MS;
    },

    setEnabled: function (on) {
      // The press button stays usable during the trial sequence; it is off only while a choice
      // waits for its result or the connection is down.
      setUsable(this.press, on || this.phase === "gate" || this.phase === "fixation");
      if (!on && !core.pending && this.phase === "stimulus") {
        // Connection lost mid-trial: abandon it; the state after reconnecting restarts it.
        this.cancel();
        this.showMessage("Connection lost…");
      }
    },

    onKey: function (e) {
      if (e.key === " " || e.code === "Space" || e.key === "Spacebar") {
        this.respond(e.timeStamp);
        return true;
      }
      return false;
    },

    onHidden: function () {
      if (this.phase === "fixation") this.gate();
    },
  };

  // -- Trust game -------------------------------------------------------------------------------

  var trust = {
    draw: function (state) {
      var self = this;
      var p = state.params;
      this.endowment = Number(p.endowment);
      this.multiplier = Number(p.multiplier);
      var last = core.lastFeedback();
      var start = last ? Number(last.invested) : Math.round(this.endowment / 2);

      var label = h("label", { id: "invest-label", "for": "invest-range",
        text: "How many of your " + this.endowment + " points do you send to the other player?" });
      this.range = h("input", {
        type: "range", id: "invest-range", min: "0", max: String(this.endowment), step: "1",
        value: String(start), "aria-describedby": "invest-keep",
        oninput: function () { self.sync(self.range.value, "range"); },
        onkeydown: function (e) {
          if (e.key === "Enter") { e.preventDefault(); self.submit(); }
        },
      });
      this.number = h("input", {
        type: "number", id: "invest-number", min: "0", max: String(this.endowment), step: "1",
        inputmode: "numeric", value: String(start), className: "invest-number",
        "aria-label": "Points to send (0 to " + this.endowment + ")", "aria-describedby": "invest-keep",
        oninput: function () { self.sync(self.number.value, "number"); },
      });
      this.keep = h("p", { className: "invest-keep", id: "invest-keep" });
      this.button = h("button", { type: "submit", className: "button button-primary", text: "Invest" });
      this.form = h("form", {
        className: "invest-form", novalidate: true,
        onsubmit: function (e) { e.preventDefault(); self.submit(); },
      }, label, h("div", { className: "invest-row" }, this.range, this.number), this.keep, this.button);
      this.range.className = "invest-range";
      this.feedback = feedbackRegion();
      core.ui.body.append(this.form, this.feedback);
      this.sync(String(start));
      if (last) this.renderFeedback(last);
    },

    value: function () {
      var text = String(this.number.value).trim();
      if (!/^\d+$/.test(text)) return null;
      var x = parseInt(text, 10);
      return x >= 0 && x <= this.endowment ? x : null;
    },

    sync: function (text, from) {
      var x = /^\d+$/.test(String(text).trim()) ? parseInt(text, 10) : null;
      var valid = x !== null && x <= this.endowment;
      if (from !== "number") this.number.value = text;
      if (valid && from !== "range") this.range.value = String(x);
      this.number.setAttribute("aria-invalid", valid ? "false" : "true");
      if (valid) {
        this.keep.classList.remove("is-bad");
        this.keep.textContent = "You keep " + fmt(this.endowment - x) + "; the other player receives " + fmt(x) +
          " × " + fmt(this.multiplier) + " = " + fmt(x * this.multiplier) + ".";
      } else {
        this.keep.classList.add("is-bad");
        this.keep.textContent = "Please enter a whole number from 0 to " + this.endowment + ".";
      }
    },

    submit: function () {
      var x = this.value();
      if (x === null) {
        this.sync(this.number.value, "number");
        this.number.focus();
        return;
      }
      core.choose(String(x));
    },

    begin: function () {
      core.trialShown();
    },

    renderFeedback: function (f) {
      var percent = Math.round(Number(f.return_fraction) * 100);
      this.feedback.textContent = "";
      this.feedback.append(
        h("p", { className: "feedback-title", text: "Round " + (f.trial + 1) + " result" }),
        summaryList([
          ["You invested", fmt(f.invested)],
          ["Multiplied (× " + fmt(this.multiplier) + ")", fmt(f.multiplied)],
          ["Returned to you (" + percent + "%)", fmt(f.returned)],
          ["Your points", fmt(f.points)],
        ]));
    },

    showResult: function (f) {
      this.renderFeedback(f);
      return 500;
    },

    setEnabled: function (on) {
      setUsable(this.button, on);
    },

    onKey: function () {
      return false; // Enter submits the form; everything else belongs to the inputs
    },
  };

  var renderers = { ipd: ipd, bandit: bandit, gonogo: gonogo, trust: trust };
  core.renderer = renderers[core.game];
  if (!core.renderer) {
    core.showError("This game cannot be shown in this browser page (unknown game \"" + core.game + "\").");
    return;
  }

  // ---- wiring ---------------------------------------------------------------------------------

  document.addEventListener("keydown", function (e) {
    if (e.altKey || e.ctrlKey || e.metaKey || e.repeat) return;
    if (!core.state || core.finished || core.paused) return; // a pause's Continue button takes its own keys
    if (core.game !== "gonogo" && isTypingTarget(e.target)) return;
    if (core.game === "gonogo" || !(e.target && e.target.tagName === "BUTTON" && (e.key === " " || e.key === "Enter"))) {
      if (core.renderer.onKey(e)) e.preventDefault();
    }
  });

  document.addEventListener("visibilitychange", function () {
    if (document.hidden) {
      if (core.renderer.onHidden) core.renderer.onHidden();
    } else {
      core.reconnectNow();
    }
  });
  window.addEventListener("online", function () { core.reconnectNow(); });
  window.addEventListener("pageshow", function (e) {
    if (e.persisted) { core.finished = false; core.reconnectNow(); } // back/forward cache
  });

  var loading = document.getElementById("game-loading");
  if (loading) loading.textContent = "Connecting…";
  core.connect();

  // For debugging in the console and for automated browser checks; not used by the page itself.
  window.shapingLab = core;
})();
