// confab — the room page: one WebSocket, a message log, the online list and
// the composer.
//
// Security rule for this file: every string that came from a user or from the
// server goes into the page through textContent / createTextNode / dataset /
// setAttribute only. Never innerHTML and friends.
//
// Adding a frame type (edit, delete, reactions, typing…) means adding one
// entry to `handlers` below; messages already on screen can be found by id in
// `messagesById`.
"use strict";

(() => {
  const root = document.getElementById("room");
  if (!root) return;

  // ---------------------------------------------------------------------
  // Settings (from the page, then fixed tuning values)
  // ---------------------------------------------------------------------

  const ROOM = root.dataset.room || "";
  const ME = root.dataset.username || "";
  const MAX_CHARS = positiveInt(root.dataset.maxChars, 4000);

  /** Same author within this window → one visual group. */
  const GROUP_WINDOW_MS = 5 * 60 * 1000;
  /** "Near the bottom" tolerance for sticky scrolling, in pixels. */
  const NEAR_BOTTOM_PX = 80;
  /** Keep the DOM bounded in rooms that stay open for days. */
  const MAX_LOG_ITEMS = 1000;
  const BACKOFF_BASE_MS = 1000;
  const BACKOFF_MAX_MS = 30000;
  /** How long a composer notice stays before fading (paused on hover/focus). */
  const NOTICE_MS = 6000;
  const NOTICE_FADE_MS = 400;
  /** The counter appears in the last 10% before the limit. */
  const COUNTER_FROM = Math.floor(MAX_CHARS * 0.9);
  /** The composer grows up to this many lines, then scrolls. */
  const COMPOSER_MAX_LINES = 6;
  /** Error codes meaning "your last message was refused": give the text back. */
  const RESTORE_ON_ERROR = new Set(["message_too_long", "empty_message", "rate_limited"]);

  // ---------------------------------------------------------------------
  // Elements
  // ---------------------------------------------------------------------

  const $ = (id) => document.getElementById(id);
  const log = $("chat-log");
  const newMessagesButton = $("new-messages");
  const userList = $("user-list");
  const onlineCount = $("online-count");
  const onlinePanel = userList.closest(".online-panel");
  const connStatus = $("conn-status");
  const connText = connStatus.querySelector(".conn-text");
  const connRetry = $("conn-retry");
  const connAnnouncer = $("conn-announcer");
  const form = $("composer");
  const input = $("chat-message-input");
  const sendButton = $("chat-message-submit");
  const notice = $("composer-notice");
  const noticeText = notice.querySelector(".notice-text");
  const noticeClose = notice.querySelector(".notice-close");
  const counter = $("char-counter");

  // ---------------------------------------------------------------------
  // State
  // ---------------------------------------------------------------------

  /** Message id → its element; used to dedupe and, later, to edit/delete. */
  const messagesById = new Map();
  /** Who is online right now. */
  const online = new Set();

  let socket = null;
  let attempt = 0; // failed connection attempts since the last successful open
  let reconnectTimer = 0;
  let countdownTimer = 0;
  let leaving = false; // page is being hidden/unloaded: don't reconnect
  let wasConnected = false;
  /** Text of the last message sent and not yet echoed back or refused. */
  let pendingText = null;

  // ---------------------------------------------------------------------
  // Small helpers
  // ---------------------------------------------------------------------

  function positiveInt(value, fallback) {
    const n = Number.parseInt(value, 10);
    return Number.isFinite(n) && n > 0 ? n : fallback;
  }

  /** Frames come from the network: treat every field as possibly missing. */
  function str(value) {
    return typeof value === "string" ? value : "";
  }

  /** Length in Unicode scalar values, which is how the server counts. */
  function charCount(text) {
    let n = 0;
    for (const _ of text) n += 1;
    return n;
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // ---------------------------------------------------------------------
  // Time formatting (viewer's locale and time zone)
  // ---------------------------------------------------------------------

  const fmtTime = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
  const fmtDay = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric" });
  const fmtFull = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "medium" });

  function parseDate(value) {
    const date = new Date(str(value));
    return Number.isNaN(date.getTime()) ? new Date() : date;
  }

  function isSameDay(a, b) {
    return a.getFullYear() === b.getFullYear()
      && a.getMonth() === b.getMonth()
      && a.getDate() === b.getDate();
  }

  /** <time>: HH:MM (plus the day if not today), full date on hover. */
  function renderTime(date) {
    const t = el("time", "msg-time");
    t.dateTime = date.toISOString();
    t.title = fmtFull.format(date);
    t.textContent = isSameDay(date, new Date())
      ? fmtTime.format(date)
      : `${fmtDay.format(date)}, ${fmtTime.format(date)}`;
    return t;
  }

  // ---------------------------------------------------------------------
  // Rendering log entries
  // ---------------------------------------------------------------------

  /** Builds one room message element (not yet in the document). */
  function renderMessage(msg) {
    const date = parseDate(msg.created_at);
    const user = str(msg.user);
    const item = el("div", "msg");
    item.dataset.id = String(msg.id);
    item.dataset.user = user;
    item.dataset.ts = String(date.getTime());
    if (user === ME) item.classList.add("msg--mine");

    const meta = el("div", "msg-meta");
    meta.append(el("span", "msg-author", user), " ", renderTime(date));
    item.append(meta, el("div", "msg-text", str(msg.message)));
    return item;
  }

  /** Builds a private message element: "alice → you" or "you → bob". */
  function renderPrivate({ from, to, text, outgoing, createdAt }) {
    const item = el("div", "msg msg--private");
    if (outgoing) item.classList.add("msg--mine");

    const meta = el("div", "msg-meta");
    const who = el("span", "msg-author");
    who.append(
      outgoing ? el("span", "", "you") : el("strong", "", from),
      " → ",
      outgoing ? el("strong", "", to) : el("span", "", "you"),
    );
    meta.append(who, " ", el("span", "badge badge-private", "private"), " ", renderTime(parseDate(createdAt)));

    if (!outgoing && from) {
      const reply = el("button", "msg-action", "Reply");
      reply.type = "button";
      reply.dataset.pmTo = from;
      reply.setAttribute("aria-label", `Reply privately to ${from}`);
      meta.append(" ", reply);
    }
    item.append(meta, el("div", "msg-text", text));
    return item;
  }

  function renderSystem(text) {
    const line = el("p", "sys", text);
    line.title = fmtFull.format(new Date());
    return line;
  }

  function isRoomMessage(node) {
    return node !== null && node.classList.contains("msg") && node.dataset.id !== undefined;
  }

  /**
   * Hides author and time on a message that directly follows one by the same
   * author within a few minutes. Only room messages group; a system line or a
   * private message in between starts a new group.
   */
  function applyGrouping(item) {
    if (!isRoomMessage(item)) return;
    const prev = item.previousElementSibling;
    const continues = prev !== null
      && isRoomMessage(prev)
      && prev.dataset.user === item.dataset.user
      && Math.abs(Number(item.dataset.ts) - Number(prev.dataset.ts)) <= GROUP_WINDOW_MS;
    item.classList.toggle("msg--cont", continues);
  }

  /**
   * Inserts a room message in id order. Almost always this is an append, but
   * after a reconnect the history replay can carry messages older than ones
   * already shown.
   */
  function insertRoomMessage(item, id) {
    let before = null;
    for (let node = log.lastElementChild; node; node = node.previousElementSibling) {
      if (!isRoomMessage(node)) continue;
      if (Number(node.dataset.id) > id) before = node;
      else break;
    }
    log.insertBefore(item, before); // before === null appends
    applyGrouping(item);
    if (item.nextElementSibling) applyGrouping(item.nextElementSibling);
  }

  function trimLog() {
    while (log.childElementCount > MAX_LOG_ITEMS) {
      const first = log.firstElementChild;
      if (isRoomMessage(first)) messagesById.delete(Number(first.dataset.id));
      first.remove();
    }
    if (log.firstElementChild) applyGrouping(log.firstElementChild);
  }

  // ---------------------------------------------------------------------
  // Scrolling: stick to the bottom only if the reader is already there
  // ---------------------------------------------------------------------

  function isNearBottom() {
    return log.scrollHeight - log.scrollTop - log.clientHeight <= NEAR_BOTTOM_PX;
  }

  function scrollToBottom(smooth) {
    log.scrollTo({ top: log.scrollHeight, behavior: smooth ? "smooth" : "auto" });
    newMessagesButton.hidden = true;
  }

  /**
   * Runs `mutate` (which adds to the log), then keeps the view pinned to the
   * bottom if it was there (or `force`), otherwise offers the
   * "New messages" button (if `notify`).
   */
  function addToLog(mutate, { force = false, notify = true } = {}) {
    const stick = force || isNearBottom();
    mutate();
    trimLog();
    if (stick) scrollToBottom(false);
    else if (notify) newMessagesButton.hidden = false;
  }

  function appendSystem(text) {
    addToLog(() => log.append(renderSystem(text)), { notify: false });
  }

  // ---------------------------------------------------------------------
  // Online list
  // ---------------------------------------------------------------------

  function renderUserList() {
    const names = [...online].sort((a, b) => a.localeCompare(b, undefined, { sensitivity: "base" }));
    const items = names.map((name) => {
      const li = el("li", "user");
      if (name === ME) {
        li.classList.add("user--me");
        li.append(el("span", "user-name", name), " ", el("span", "muted", "(you)"));
      } else {
        // Clicking someone starts a private message to them.
        const button = el("button", "user-name user-pm", name);
        button.type = "button";
        button.dataset.pmTo = name;
        button.title = `Send ${name} a private message`;
        li.append(button);
      }
      return li;
    });
    userList.replaceChildren(...items);
    onlineCount.textContent = String(names.length);
  }

  // ---------------------------------------------------------------------
  // Composer
  // ---------------------------------------------------------------------

  let composerMaxHeight = 0;

  /** Textarea grows with its content up to COMPOSER_MAX_LINES, then scrolls. */
  function autosize() {
    if (!composerMaxHeight) {
      const cs = getComputedStyle(input);
      const line = Number.parseFloat(cs.lineHeight) || Number.parseFloat(cs.fontSize) * 1.4;
      const chrome = ["paddingTop", "paddingBottom", "borderTopWidth", "borderBottomWidth"]
        .reduce((sum, prop) => sum + (Number.parseFloat(cs[prop]) || 0), 0);
      composerMaxHeight = Math.ceil(line * COMPOSER_MAX_LINES + chrome);
    }
    // CSSOM writes are allowed under the CSP (only style="" attributes are not).
    if (input.value === "") {
      // Back to one row; measuring now would size the box to a wrapped placeholder.
      input.style.height = "";
      input.style.overflowY = "hidden";
      return;
    }
    input.style.height = "auto";
    const borders = input.offsetHeight - input.clientHeight;
    const wanted = input.scrollHeight + borders;
    input.style.height = `${Math.min(wanted, composerMaxHeight)}px`;
    input.style.overflowY = wanted > composerMaxHeight ? "auto" : "hidden";
  }

  function updateCounter() {
    const n = charCount(input.value);
    if (n < COUNTER_FROM) {
      counter.hidden = true;
      return;
    }
    counter.hidden = false;
    counter.textContent = `${n} / ${MAX_CHARS}`;
    counter.classList.toggle("is-over", n > MAX_CHARS);
  }

  function setComposerText(text) {
    input.value = text;
    autosize();
    updateCounter();
  }

  /** Puts "/pm name " in front of whatever is being typed. */
  function startPrivateMessage(name) {
    const rest = input.value.replace(/^\/pm\s+\S+\s?/, "");
    setComposerText(`/pm ${name} ${rest}`);
    input.focus();
    input.setSelectionRange(input.value.length, input.value.length);
  }

  function sendMessage() {
    const text = input.value;
    if (text.trim() === "") return; // nothing to say; the server would refuse it anyway
    const n = charCount(text);
    if (n > MAX_CHARS) {
      showNotice(`Your message is ${n} characters long; the limit is ${MAX_CHARS}.`);
      return;
    }
    if (!socket || socket.readyState !== WebSocket.OPEN) {
      showNotice("Not connected. Your message is still here; send it once you are back online.");
      return;
    }
    socket.send(JSON.stringify({ type: "chat_message", message: text }));
    pendingText = text;
    setComposerText("");
    hideNotice();
  }

  // ---------------------------------------------------------------------
  // Composer notice (errors from the server or the client)
  // ---------------------------------------------------------------------

  let noticeTimer = 0;

  function showNotice(text) {
    noticeText.textContent = text;
    notice.classList.remove("is-fading");
    notice.hidden = false;
    armNoticeTimer();
  }

  function armNoticeTimer() {
    clearTimeout(noticeTimer);
    noticeTimer = setTimeout(() => {
      notice.classList.add("is-fading");
      noticeTimer = setTimeout(hideNotice, NOTICE_FADE_MS);
    }, NOTICE_MS);
  }

  function hideNotice() {
    clearTimeout(noticeTimer);
    notice.hidden = true;
    notice.classList.remove("is-fading");
  }

  // ---------------------------------------------------------------------
  // Frame handlers: one function per server frame type
  // ---------------------------------------------------------------------

  const handlers = {
    chat_message(frame) {
      const id = Number(frame.id);
      if (!Number.isFinite(id) || messagesById.has(id)) return; // history replay after reconnect
      const mine = str(frame.user) === ME;
      if (mine && !frame.history) pendingText = null; // our send was accepted
      const item = renderMessage(frame);
      messagesById.set(id, item);
      addToLog(() => insertRoomMessage(item, id), { force: mine && !frame.history });
    },

    user_list(frame) {
      online.clear();
      for (const name of Array.isArray(frame.users) ? frame.users : []) {
        if (typeof name === "string") online.add(name);
      }
      onlinePanel.classList.remove("is-stale");
      renderUserList();
    },

    user_join(frame) {
      const user = str(frame.user);
      if (!user) return;
      // A second tab of someone already here, or ourselves after a reconnect: no line.
      const isNew = !online.has(user);
      online.add(user);
      renderUserList();
      if (isNew && user !== ME) appendSystem(`${user} joined`);
    },

    user_leave(frame) {
      const user = str(frame.user);
      if (!user) return;
      const wasHere = online.delete(user);
      renderUserList();
      if (wasHere && user !== ME) appendSystem(`${user} left`);
    },

    private_message(frame) {
      const item = renderPrivate({
        from: str(frame.user), to: ME, text: str(frame.message), outgoing: false, createdAt: frame.created_at,
      });
      addToLog(() => log.append(item));
    },

    private_message_delivered(frame) {
      pendingText = null;
      const item = renderPrivate({
        from: ME, to: str(frame.target), text: str(frame.message), outgoing: true, createdAt: frame.created_at,
      });
      addToLog(() => log.append(item), { force: true });
    },

    error(frame) {
      showNotice(str(frame.message) || "Something went wrong.");
      if (pendingText !== null && RESTORE_ON_ERROR.has(str(frame.code))) {
        // Give the refused text back, unless the user has started typing anew.
        if (input.value.trim() === "") setComposerText(pendingText);
        pendingText = null;
      }
    },
  };

  function onFrame(event) {
    let frame;
    try {
      frame = JSON.parse(event.data);
    } catch {
      return; // not JSON: not ours to handle
    }
    if (frame === null || typeof frame !== "object" || typeof frame.type !== "string") return;
    // hasOwn: a frame type like "constructor" must not reach Object.prototype.
    if (Object.hasOwn(handlers, frame.type)) handlers[frame.type](frame);
    // Unknown types are ignored so the server can add new ones first.
  }

  // ---------------------------------------------------------------------
  // Connection status
  // ---------------------------------------------------------------------

  function statusLabel(state, seconds) {
    switch (state) {
      case "online": return "online";
      case "reconnecting": return `reconnecting in ${seconds}s`;
      case "offline": return seconds ? `offline, retrying in ${seconds}s` : "offline";
      default: return "connecting…";
    }
  }

  /** Screen readers hear each change of state once, not every countdown tick. */
  function announce(state) {
    if (state === "online") connAnnouncer.textContent = wasConnected ? "Connected." : "";
    else if (state === "reconnecting") connAnnouncer.textContent = "Connection lost. Reconnecting automatically.";
    else if (state === "offline") connAnnouncer.textContent = "You are offline.";
  }

  function setStatus(state, seconds) {
    const label = statusLabel(state, seconds);
    if (connText.textContent !== label) connText.textContent = label;
    if (connStatus.dataset.state === state) return;

    connStatus.dataset.state = state;
    announce(state);
    const isOnline = state === "online";
    sendButton.disabled = !isOnline; // typing stays possible while disconnected
    connRetry.hidden = state !== "reconnecting" && state !== "offline";
    if (!isOnline) onlinePanel.classList.add("is-stale");
  }

  // ---------------------------------------------------------------------
  // Connection lifecycle
  // ---------------------------------------------------------------------

  function socketUrl() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    return `${scheme}://${location.host}/ws/chat/${encodeURIComponent(ROOM)}/`;
  }

  function clearReconnect() {
    clearTimeout(reconnectTimer);
    clearInterval(countdownTimer);
    reconnectTimer = 0;
    countdownTimer = 0;
  }

  function connect() {
    clearReconnect();
    if (socket) return;
    setStatus("connecting");

    let ws;
    try {
      ws = new WebSocket(socketUrl());
    } catch {
      scheduleReconnect();
      return;
    }
    socket = ws;

    // Every listener checks `socket === ws` so that a stale socket (replaced
    // by "Retry now" or a page restore) cannot touch the current state.
    ws.addEventListener("open", () => {
      if (socket !== ws) return;
      attempt = 0; // a successful open resets the backoff
      setStatus("online");
      wasConnected = true;
    });
    ws.addEventListener("message", (event) => {
      if (socket === ws) onFrame(event);
    });
    ws.addEventListener("close", () => {
      if (socket !== ws) return;
      socket = null;
      // A refused send is as good as lost once the socket is gone.
      pendingText = null;
      if (!leaving) scheduleReconnect();
    });
    // "error" is always followed by "close", which does the work.
  }

  /**
   * Exponential backoff (1s, 2s, 4s … 30s) with ±20% jitter so that every
   * client does not hammer a restarting server at the same instant. This
   * also covers close code 4403 and failed handshakes: we keep trying.
   */
  function scheduleReconnect() {
    clearReconnect();
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** attempt);
    const delay = Math.min(BACKOFF_MAX_MS, Math.round(base * (0.8 + Math.random() * 0.4)));
    attempt = Math.min(attempt + 1, 16);
    const due = Date.now() + delay;

    const tick = () => {
      const seconds = Math.max(1, Math.ceil((due - Date.now()) / 1000));
      setStatus(navigator.onLine === false ? "offline" : "reconnecting", seconds);
    };
    tick();
    countdownTimer = setInterval(tick, 250);
    reconnectTimer = setTimeout(connect, delay);
  }

  /** Reconnect at once (button, network back, tab restored). */
  function reconnectNow() {
    if (socket) return;
    connect();
  }

  function closeForGood() {
    leaving = true;
    clearReconnect();
    if (socket) {
      const ws = socket;
      socket = null;
      ws.close(1000, "leaving");
    }
  }

  // ---------------------------------------------------------------------
  // Wiring
  // ---------------------------------------------------------------------

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    sendMessage();
    input.focus();
  });

  input.addEventListener("keydown", (event) => {
    // isComposing / 229: Enter that confirms an IME composition must not send.
    if (event.key !== "Enter" || event.shiftKey || event.isComposing || event.keyCode === 229) return;
    event.preventDefault();
    sendMessage();
  });

  input.addEventListener("input", () => {
    autosize();
    updateCounter();
  });

  // Private-message shortcuts: names in the online list and "Reply" buttons.
  userList.addEventListener("click", (event) => {
    const target = event.target.closest("[data-pm-to]");
    if (target) startPrivateMessage(target.dataset.pmTo);
  });
  log.addEventListener("click", (event) => {
    const target = event.target.closest("[data-pm-to]");
    if (target) startPrivateMessage(target.dataset.pmTo);
  });

  log.addEventListener("scroll", () => {
    if (!newMessagesButton.hidden && isNearBottom()) newMessagesButton.hidden = true;
  }, { passive: true });
  newMessagesButton.addEventListener("click", () => scrollToBottom(true));

  noticeClose.addEventListener("click", hideNotice);
  // Don't fade a notice away while someone is reading or focusing it.
  notice.addEventListener("mouseenter", () => clearTimeout(noticeTimer));
  notice.addEventListener("mouseleave", () => { if (!notice.hidden) armNoticeTimer(); });
  notice.addEventListener("focusin", () => clearTimeout(noticeTimer));
  input.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !notice.hidden) hideNotice();
  });

  connRetry.addEventListener("click", reconnectNow);
  window.addEventListener("online", reconnectNow);
  window.addEventListener("offline", () => {
    if (!socket) setStatus("offline");
  });

  // Close cleanly when the page goes away (keeps it eligible for the
  // back/forward cache) and reconnect if it is restored from there.
  window.addEventListener("pagehide", closeForGood);
  window.addEventListener("pageshow", (event) => {
    if (!event.persisted) return;
    leaving = false;
    attempt = 0;
    connect();
  });

  // Phones have no Shift+Enter: keep only the useful part of the placeholder
  // there, so it fits on one line.
  const narrow = window.matchMedia("(max-width: 699px)");
  const fullPlaceholder = input.getAttribute("placeholder") || "";
  const applyPlaceholder = () => {
    input.setAttribute("placeholder", narrow.matches ? `Message #${ROOM}` : fullPlaceholder);
  };
  narrow.addEventListener("change", applyPlaceholder);
  applyPlaceholder();

  autosize();
  updateCounter();
  connect();
})();
