// confab — the room page: one WebSocket, a message log with scroll-back,
// edit/delete/reactions on messages, who is typing, the online list and the
// composer. The wire format is docs/protocol.md.
//
// Security rule for this file: every string that came from a user or from the
// server goes into the page through textContent / createTextNode / dataset /
// setAttribute only. Never innerHTML and friends.
//
// How it fits together:
//   - every server frame goes to one function in `handlers` (by its `type`);
//   - room messages on screen are `.message[data-id]` elements, found by id in
//     `messagesById`, always in id order in the log;
//   - the buttons inside messages are handled by one delegated click listener
//     on the log (`LOG_ACTIONS`), so re-rendered messages need no wiring;
//   - a reconnect resumes: the socket URL carries `?after=<highest id seen>`,
//     the server replays everything newer (paged with `history` + `after`
//     when more than its burst was missed), and nothing is lost or doubled.
//     The server does not replay edits, deletions and reactions of messages
//     we already had, so the page then re-reads the messages it shows
//     (`history` + `before`, newest first) and brings them up to date;
//   - `history` answers do not say which request they answer, so there is
//     never more than one request out (`requestHistory`): catching up,
//     reconciling and scroll-back take turns.
"use strict";

(() => {
  const root = document.getElementById("room");
  if (!root) return;

  // ---------------------------------------------------------------------
  // Settings (from the page, then fixed tuning values)
  // ---------------------------------------------------------------------

  const ROOM = root.dataset.room || "";
  const ME = root.dataset.username || "";
  /** Staff may delete anyone's message (the server checks it too). */
  const IS_STAFF = root.dataset.staff === "true";
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
  const EDITOR_MAX_LINES = 10;
  /** Error codes meaning "your last message was refused": give the text back. */
  const RESTORE_ON_ERROR = new Set(["message_too_long", "empty_message", "rate_limited"]);

  /** The server replays this many messages on join; fewer means there are no older ones. */
  const JOIN_HISTORY = 10;
  /** Messages per scroll-back request. */
  const HISTORY_PAGE = 50;
  /** Ask for older messages once the reader is this close to the top, in pixels. */
  const HISTORY_TRIGGER_PX = 40;
  /** Messages per catch-up or reconcile request (the protocol's maximum). */
  const HISTORY_PAGE_MAX = 100;
  /** After a reconnect, re-read at most this many of the newest messages on screen… */
  const RECONCILE_MAX_MESSAGES = 300;
  /** …in at most this many requests (deleted messages make pages reach further back). */
  const RECONCILE_MAX_PAGES = 5;
  /**
   * A `history` request unanswered this long means the socket is stuck; a
   * new one resumes without losing anything. (Giving up on the request and
   * sending another could hand the late answer to the wrong request.)
   */
  const HISTORY_STUCK_MS = 20000;

  /** Protocol: while typing, say so at most every 2 s… */
  const TYPING_REFRESH_MS = 2000;
  /** …and say "stopped" after this long without a keystroke. */
  const TYPING_IDLE_MS = 3000;
  /** Someone else's "typing" lapses this long after their last refresh. */
  const TYPING_EXPIRE_MS = 5000;

  /** The phone layout of style.css (section 15). */
  const narrowScreen = window.matchMedia("(max-width: 699px)");
  /** A finger rather than a mouse. */
  const coarsePointer = window.matchMedia("(pointer: coarse)");

  /**
   * The reaction picker, a grid of common emoji, each with the name screen
   * readers and tooltips give it. Any single emoji is valid on the wire.
   */
  const REACTION_EMOJI = [
    ["👍", "thumbs up"], ["❤️", "heart"], ["😂", "tears of joy"], ["🎉", "party popper"],
    ["😮", "open mouth"], ["😢", "crying"], ["🙏", "folded hands"], ["👀", "eyes"],
    ["😊", "smiling eyes"], ["😍", "heart eyes"], ["🤣", "rolling on the floor laughing"], ["😅", "sweat smile"],
    ["😎", "sunglasses"], ["🤔", "thinking"], ["😬", "grimacing"], ["😡", "angry"],
    ["👎", "thumbs down"], ["👏", "clapping"], ["🙌", "raised hands"], ["💪", "flexed biceps"],
    ["👋", "waving hand"], ["🤝", "handshake"], ["👌", "OK hand"], ["✌️", "victory hand"],
    ["🔥", "fire"], ["✨", "sparkles"], ["💯", "hundred points"], ["✅", "check mark"],
    ["❌", "cross mark"], ["🚀", "rocket"], ["🥳", "partying face"], ["🤯", "mind blown"],
  ];

  const NOT_CONNECTED = "Not connected. Try again once you are back online.";
  /** Used only when an error frame comes without a human message. */
  const ERROR_TEXT = {
    not_found: "That message no longer exists.",
    forbidden: "You can only change your own messages.",
    invalid_emoji: "A reaction must be a single emoji.",
  };

  // ---------------------------------------------------------------------
  // Elements
  // ---------------------------------------------------------------------

  const $ = (id) => document.getElementById(id);
  const log = $("chat-log");
  const historyStatus = $("history-status");
  const newMessagesButton = $("new-messages");
  const typingIndicator = $("typing-indicator");
  const typingText = typingIndicator.querySelector(".typing-text");
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

  /** Message id → its element: dedupes replays and finds targets of edits, deletes, reactions. */
  const messagesById = new Map();
  /** Who is online right now. */
  const online = new Set();
  /** Who else is typing: user → the timer that forgets them. */
  const typingUsers = new Map();

  let socket = null;
  let attempt = 0; // failed connection attempts since the last successful open
  let reconnectTimer = 0;
  let countdownTimer = 0;
  let leaving = false; // page is being hidden/unloaded: don't reconnect
  let wasConnected = false;
  /** Text of the last message sent and not yet echoed back or refused. */
  let pendingText = null;

  /** Set when a socket opens without resuming: its first frame starts a fresh view. */
  let resetOnNextFrame = false;
  /** Highest room message id received; a reconnect resumes after it. */
  let highestId = 0;
  /** The current socket catches up after `highestId` instead of starting fresh. */
  let resuming = false;
  /** `highestId` when the current socket opened: what was on screen before it. */
  let resumedAfter = 0;
  /** The current socket's `resumed` frame has come. */
  let resumedSeen = false;
  /** The one `history` request out, if any: see `requestHistory`. */
  let historyRequest = null;
  /** The resume burst was capped: more missed messages to fetch with `history` + `after`. */
  let catchUpWanted = false;
  /** After a reconnect: the re-reading of the messages on screen, while it lasts (`reconcileStep`). */
  let reconcile = null;
  /** From a socket's open until its join replay ends (the user_list frame). */
  let joining = false;
  /** History messages received in the current join replay. */
  let joinHistoryCount = 0;
  /** Scroll-back: "idle" (older messages may exist), "loading" (one request out) or "done". */
  let historyState = "idle";

  /** When we last told the room we are typing; 0 = we have not (or said we stopped). */
  let typingSentAt = 0;
  let typingIdleTimer = 0;

  /** The message whose actions are shown after a tap (phones have no hover). */
  let activeItem = null;
  /** The button that opened the reaction picker; focus goes back to it. */
  let pickerOpener = null;

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

  /** A message id from a frame, or null. */
  function messageId(value) {
    const id = Number(value);
    return Number.isSafeInteger(id) ? id : null;
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

  /** A <button type="button">; `label` is also its tooltip when given. */
  function button(className, text, label) {
    const b = el("button", className, text);
    b.type = "button";
    if (label) {
      b.setAttribute("aria-label", label);
      b.title = label;
    }
    return b;
  }

  const SVG_NS = "http://www.w3.org/2000/svg";
  /** Stroke icons (24×24) for the message toolbar; drawn in currentColor by style.css. */
  const ICONS = {
    react: [
      "M12 21a9 9 0 1 1 0-18 9 9 0 0 1 0 18z",
      "M8.5 14c.9 1.2 2.1 1.8 3.5 1.8s2.6-.6 3.5-1.8",
      "M9 9.5h.01",
      "M15 9.5h.01",
    ],
    edit: ["M4 20h4L18.5 9.5a2.1 2.1 0 0 0-3-3L5 17v3z", "M13.5 8.5l3 3"],
    delete: ["M4 7h16", "M9 7V4h6v3", "M6 7l1 12a2 2 0 0 0 2 2h6a2 2 0 0 0 2-2l1-12", "M10 11v6", "M14 11v6"],
  };

  function icon(name) {
    const svg = document.createElementNS(SVG_NS, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("class", "icon");
    for (const d of ICONS[name]) {
      const path = document.createElementNS(SVG_NS, "path");
      path.setAttribute("d", d);
      svg.append(path);
    }
    return svg;
  }

  /** Grows a textarea with its content up to `maxLines`, then lets it scroll. */
  function fitHeight(area, maxLines) {
    // CSSOM writes are allowed under the CSP (only style="" attributes are not).
    if (area.value === "") {
      // Back to one row; measuring now would size the box to a wrapped placeholder.
      area.style.height = "";
      area.style.overflowY = "hidden";
      return;
    }
    const cs = getComputedStyle(area);
    const line = Number.parseFloat(cs.lineHeight) || Number.parseFloat(cs.fontSize) * 1.4;
    const chrome = ["paddingTop", "paddingBottom", "borderTopWidth", "borderBottomWidth"]
      .reduce((sum, prop) => sum + (Number.parseFloat(cs[prop]) || 0), 0);
    const max = Math.ceil(line * maxLines + chrome);
    area.style.height = "auto";
    const borders = area.offsetHeight - area.clientHeight;
    const wanted = area.scrollHeight + borders;
    area.style.height = `${Math.min(wanted, max)}px`;
    area.style.overflowY = wanted > max ? "auto" : "hidden";
  }

  /** Enter without Shift, and not the Enter that confirms an IME composition. */
  function isPlainEnter(event) {
    return event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229;
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
    const t = el("time", "message-time");
    t.dateTime = date.toISOString();
    t.title = fmtFull.format(date);
    t.textContent = isSameDay(date, new Date())
      ? fmtTime.format(date)
      : `${fmtDay.format(date)}, ${fmtTime.format(date)}`;
    return t;
  }

  // ---------------------------------------------------------------------
  // Sending
  // ---------------------------------------------------------------------

  /** Sends one frame; false (and nothing sent) while disconnected. */
  function send(frame) {
    if (!socket || socket.readyState !== WebSocket.OPEN) return false;
    socket.send(JSON.stringify(frame));
    return true;
  }

  // ---------------------------------------------------------------------
  // Rendering messages
  //
  //   .message[data-id][data-user]        (.message--mine, .message--cont)
  //     .message-body      as wide as the bubble, so the hover time sits beside it
  //       .message-meta    author + <time>
  //       .message-bubble  .message-text, .message-edited, .message-actions
  //     (.reaction-picker / .delete-confirm while open)
  //     .message-reactions  button.reaction-chip…
  // ---------------------------------------------------------------------

  /** Builds one room message element (not yet in the document). */
  function renderMessage(msg) {
    const date = parseDate(msg.created_at);
    const user = str(msg.user);
    const mine = user === ME;
    const item = el("div", "message");
    item.dataset.id = String(msg.id);
    item.dataset.user = user;
    item.dataset.ts = String(date.getTime());
    if (mine) item.classList.add("message--mine");

    const meta = el("div", "message-meta");
    meta.append(el("span", "message-author", user), " ", renderTime(date));

    const bubble = el("div", "message-bubble");
    bubble.append(el("span", "message-text", str(msg.message)), renderToolbar(user, mine));

    const body = el("div", "message-body");
    body.append(meta, bubble);
    item.append(body, el("div", "message-reactions"));
    if (msg.edited_at) markEdited(item, msg.edited_at);
    renderReactions(item, msg.reactions);
    return item;
  }

  /** The hover/tap toolbar: react for everyone, edit for the author, delete for the author and staff. */
  function renderToolbar(user, mine) {
    const bar = el("div", "message-actions");
    bar.setAttribute("role", "group");
    bar.setAttribute("aria-label", "Message actions");

    bar.append(reactButton("message-tool action-react"));

    if (mine) {
      const edit = button("message-tool action-edit", undefined, "Edit message");
      edit.append(icon("edit"));
      bar.append(edit);
    }
    if (mine || IS_STAFF) {
      const del = button("message-tool action-delete", undefined, mine ? "Delete message" : `Delete ${user}'s message`);
      del.append(icon("delete"));
      bar.append(del);
    }
    return bar;
  }

  /** A button that opens the reaction picker (closed for now). */
  function reactButton(className) {
    const react = button(className, undefined, "Add reaction");
    react.setAttribute("aria-haspopup", "dialog");
    react.setAttribute("aria-expanded", "false");
    react.append(icon("react"));
    return react;
  }

  /** Shows "(edited)" after the text, with the edit time on hover. */
  function markEdited(item, editedAt) {
    let mark = item.querySelector(".message-edited");
    if (!mark) {
      mark = el("span", "message-edited", "(edited)");
      item.querySelector(".message-text").after(mark);
    }
    mark.title = `Edited ${fmtFull.format(parseDate(editedAt))}`;
  }

  /**
   * Replaces a message's reaction chips with `reactions` (the full current
   * set), followed by a small "add" button that opens the picker without
   * the hover toolbar.
   */
  function renderReactions(item, reactions) {
    const row = item.querySelector(".message-reactions");
    // Re-rendering drops the focused chip; put focus back on its successor.
    const had = row.contains(document.activeElement) ? document.activeElement : null;

    const chips = (Array.isArray(reactions) ? reactions : []).map(renderChip).filter(Boolean);
    const add = reactButton("reaction-add");
    if (pickerOpener !== null && row.contains(pickerOpener)) {
      // The picker stays open across the update; it now belongs to the new button.
      add.setAttribute("aria-expanded", "true");
      pickerOpener = add;
    }
    row.replaceChildren(...chips, add);
    row.hidden = chips.length === 0;

    if (had !== null) {
      const again = had.classList.contains("reaction-add")
        ? add
        : chips.find((chip) => chip.dataset.emoji === had.dataset.emoji);
      (again && !row.hidden ? again : item.querySelector(".action-react")).focus({ preventScroll: true });
    }
  }

  function renderChip(reaction) {
    const emoji = str(reaction && reaction.emoji);
    if (!emoji) return null;
    const users = Array.isArray(reaction.users) ? reaction.users.filter((u) => typeof u === "string") : [];
    const count = positiveInt(reaction.count, users.length);
    const mine = users.includes(ME);

    const chip = button("reaction-chip");
    chip.dataset.emoji = emoji;
    chip.classList.toggle("mine", mine);
    chip.setAttribute("aria-pressed", String(mine));
    chip.title = users.join(", ");
    chip.setAttribute("aria-label", `${emoji} ${count}: ${users.join(", ")}`);
    chip.append(el("span", "reaction-emoji", emoji), el("span", "reaction-count", String(count)));
    return chip;
  }

  /** Builds a private message element: "alice → you" or "you → bob". */
  function renderPrivate({ from, to, text, outgoing, createdAt }) {
    const item = el("div", "message message--private");
    if (outgoing) item.classList.add("message--mine");

    const meta = el("div", "message-meta");
    const who = el("span", "message-author");
    who.append(
      outgoing ? el("span", "", "you") : el("strong", "", from),
      " → ",
      outgoing ? el("strong", "", to) : el("span", "", "you"),
    );
    meta.append(who, " ", el("span", "badge badge-private", "private"), " ", renderTime(parseDate(createdAt)));

    if (!outgoing && from) {
      const reply = button("message-reply", "Reply");
      reply.dataset.pmTo = from;
      reply.setAttribute("aria-label", `Reply privately to ${from}`);
      meta.append(" ", reply);
    }
    const bubble = el("div", "message-bubble");
    bubble.append(el("span", "message-text", text));
    const body = el("div", "message-body");
    body.append(meta, bubble);
    item.append(body);
    return item;
  }

  function renderSystem(text) {
    const line = el("p", "sys", text);
    line.title = fmtFull.format(new Date());
    return line;
  }

  // ---------------------------------------------------------------------
  // The log: room messages in id order, with system lines and private
  // messages in between; #history-status always first.
  // ---------------------------------------------------------------------

  function isRoomMessage(node) {
    return node !== null && node.classList.contains("message") && node.dataset.id !== undefined;
  }

  /**
   * Hides author and time on a message that directly follows one by the same
   * author within a few minutes. Only room messages group; a system line or a
   * private message in between starts a new group.
   */
  function applyGrouping(item) {
    if (!item || !isRoomMessage(item)) return;
    const prev = item.previousElementSibling;
    const continues = prev !== null
      && isRoomMessage(prev)
      && prev.dataset.user === item.dataset.user
      && Math.abs(Number(item.dataset.ts) - Number(prev.dataset.ts)) <= GROUP_WINDOW_MS;
    item.classList.toggle("message--cont", continues);
  }

  /** Inserts a new room message in id order (in practice: almost always at the end). */
  function insertRoomMessage(item, id) {
    let before = null;
    for (let node = log.lastElementChild; node; node = node.previousElementSibling) {
      if (!isRoomMessage(node)) continue;
      if (Number(node.dataset.id) > id) before = node;
      else break;
    }
    log.insertBefore(item, before); // before === null appends
    applyGrouping(item);
    applyGrouping(item.nextElementSibling);
  }

  /** Puts older messages (from scroll-back) at the top, oldest first. */
  function prependMessages(items) {
    const oldFirst = historyStatus.nextElementSibling;
    const fragment = document.createDocumentFragment();
    fragment.append(...items);
    historyStatus.after(fragment);
    for (const item of items) applyGrouping(item);
    applyGrouping(oldFirst);
  }

  function removeMessage(id) {
    const item = messagesById.get(id);
    if (!item) return;
    messagesById.delete(id);
    if (activeItem === item) activeItem = null;
    const next = item.nextElementSibling;
    const hadFocus = item.contains(document.activeElement);
    item.remove();
    applyGrouping(next);
    // Don't strand keyboard focus on a removed element.
    if (hadFocus) log.focus({ preventScroll: true });
  }

  function oldestLoadedId() {
    for (let node = historyStatus.nextElementSibling; node; node = node.nextElementSibling) {
      if (isRoomMessage(node)) return Number(node.dataset.id);
    }
    return null;
  }

  /** Drops the oldest entries beyond MAX_LOG_ITEMS (only called while pinned to the bottom). */
  function trimLog() {
    let trimmedMessages = false;
    while (log.childElementCount > MAX_LOG_ITEMS + 1) { // + 1: the history status line
      const first = historyStatus.nextElementSibling;
      if (isRoomMessage(first)) {
        messagesById.delete(Number(first.dataset.id));
        trimmedMessages = true;
      }
      first.remove();
    }
    // What was trimmed can be loaded again by scrolling up.
    if (trimmedMessages && historyState === "done") setHistoryState("idle");
    applyGrouping(historyStatus.nextElementSibling);
  }

  /** Empties the view for a fresh join; the server is about to replay the latest messages. */
  function resetView() {
    closePopups();
    log.replaceChildren(historyStatus);
    messagesById.clear();
    activeItem = null;
    joinHistoryCount = 0;
    setHistoryState("idle");
    for (const timer of typingUsers.values()) clearTimeout(timer);
    typingUsers.clear();
    renderTyping();
    newMessagesButton.hidden = true;
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

  /** Runs `mutate` (which changes the log) and keeps the view pinned to the bottom if it was there. */
  function keepPinned(mutate) {
    const stick = isNearBottom();
    mutate();
    if (stick) scrollToBottom(false);
  }

  /**
   * Runs `mutate` (which adds to the end of the log), then keeps the view
   * pinned to the bottom if it was there (or `force`), otherwise offers the
   * "New messages" button (if `notify`).
   */
  function addToLog(mutate, { force = false, notify = true } = {}) {
    const stick = force || isNearBottom();
    mutate();
    if (stick) {
      trimLog(); // only here: trimming while someone reads old messages would pull them away
      scrollToBottom(false);
    } else if (notify) {
      newMessagesButton.hidden = false;
    }
  }

  function appendSystem(text) {
    addToLog(() => log.append(renderSystem(text)), { notify: false });
  }

  /** The first entry (not the status line, not one of `leaving`) at least partly in view. */
  function firstVisibleEntry(leaving) {
    const top = log.getBoundingClientRect().top;
    for (let node = historyStatus.nextElementSibling; node; node = node.nextElementSibling) {
      if (leaving && leaving.has(node)) continue;
      if (node.getBoundingClientRect().bottom > top) return node;
    }
    return null;
  }

  /**
   * Runs `mutate` (which adds or removes entries above the view, or changes
   * their height) so that the entry the reader is looking at stays where it
   * is on screen; `leaving` are entries `mutate` removes, never the anchor.
   * Measured on an element rather than by scrollHeight, so it is right
   * whether or not the browser's own scroll anchoring already moved things.
   * On a message it is the bubble that must stay put: the message itself may
   * lose its author line when older messages by the same author arrive above it.
   */
  function keepAnchored(mutate, leaving) {
    const entry = firstVisibleEntry(leaving);
    const anchor = entry && (entry.querySelector(".message-bubble") || entry);
    const before = anchor ? anchor.getBoundingClientRect().top : 0;
    mutate();
    if (anchor && anchor.isConnected) log.scrollTop += anchor.getBoundingClientRect().top - before;
  }

  /** Runs `mutate` (which changes messages anywhere in the log) without moving the reader's view. */
  function keepView(mutate, leaving) {
    if (isNearBottom()) keepPinned(mutate);
    else keepAnchored(mutate, leaving);
  }

  // ---------------------------------------------------------------------
  // History requests: one at a time
  //
  // An answer does not say which request it answers, and a server may
  // refuse a second request while one is out. So whoever sends a request
  // owns the next answer, and the others wait for their turn: catching up
  // on missed messages first, then scroll-back (the reader is waiting),
  // then reconciling what is on screen.
  // ---------------------------------------------------------------------

  /**
   * Sends `{"type":"history", ...query}` unless a request is already out;
   * `onAnswer(frame)` gets its answer, `onLost()` (if given) runs if the
   * socket closes first. False if nothing was sent.
   */
  function requestHistory(query, onAnswer, onLost) {
    if (historyRequest !== null || !send({ type: "history", ...query })) return false;
    const ws = socket;
    const stuck = setTimeout(() => {
      if (socket !== ws || historyRequest === null) return;
      showNotice("Earlier messages did not load; reconnecting to try again.");
      ws.close(4000, "history request unanswered");
    }, HISTORY_STUCK_MS);
    historyRequest = { onAnswer, onLost, stuck };
    return true;
  }

  function receiveHistoryAnswer(frame) {
    const request = historyRequest;
    if (request === null) return; // nothing asked on this socket: not ours
    historyRequest = null;
    clearTimeout(request.stuck);
    request.onAnswer(frame);
    nextHistoryRequest();
  }

  /** The socket closed: the request out will never be answered. */
  function dropHistoryRequest() {
    const request = historyRequest;
    historyRequest = null;
    catchUpWanted = false;
    reconcile = null;
    if (request === null) return;
    clearTimeout(request.stuck);
    request.onLost?.();
  }

  /** Whoever waits for the history slot gets it, in order of priority. */
  function nextHistoryRequest() {
    if (historyRequest !== null) return;
    if (catchUpWanted) requestMissed();
    else if (!maybeLoadOlder() && reconcile !== null) reconcileStep();
  }

  // ---------------------------------------------------------------------
  // Scroll-back
  // ---------------------------------------------------------------------

  function setHistoryState(state) {
    historyState = state;
    historyStatus.dataset.state = state;
    historyStatus.textContent = state === "loading" ? "Loading earlier messages…"
      : state === "done" ? `Beginning of #${ROOM}`
      : "";
  }

  /** Asks for the page of messages before the oldest one shown; true if it did. */
  function requestOlder() {
    if (historyState !== "idle" || joining) return false;
    const before = oldestLoadedId();
    if (before === null) return false;
    const sent = requestHistory({ before, limit: HISTORY_PAGE }, receiveHistory, () => {
      if (historyState === "loading") setHistoryState("idle");
    });
    if (sent) setHistoryState("loading");
    return sent;
  }

  /** Loads more if the reader is at the top (or the log does not even fill the screen yet). */
  function maybeLoadOlder() {
    return log.scrollTop <= HISTORY_TRIGGER_PX && requestOlder();
  }

  /** The join replay is over: a short replay means the room has nothing older. */
  function finishJoin() {
    joining = false;
    if (resuming) {
      resuming = false; // the scroll-back state of the kept view still holds
      if (!resumedSeen) {
        // The server could not load what we missed (an error frame said so):
        // ask for it page by page instead, then re-read the rest.
        catchUpWanted = true;
        reconcile = planReconcile();
      }
      nextHistoryRequest(); // also: the reader may have scrolled up while we were away
      return;
    }
    setHistoryState(joinHistoryCount < JOIN_HISTORY ? "done" : "idle");
    maybeLoadOlder();
  }

  function receiveHistory(frame) {
    const entries = Array.isArray(frame.messages) ? frame.messages : [];
    const fresh = [];
    for (const msg of entries) {
      const id = msg && typeof msg === "object" ? messageId(msg.id) : null;
      if (id === null || messagesById.has(id)) continue;
      const item = renderMessage({ ...msg, id });
      messagesById.set(id, item);
      fresh.push([id, item]);
    }
    fresh.sort((a, b) => a[0] - b[0]);

    // A page that brought nothing new would only be asked for again: stop there.
    const done = fresh.length === 0 || frame.has_more !== true;
    keepAnchored(() => {
      prependMessages(fresh.map(([, item]) => item));
      setHistoryState(done ? "done" : "idle");
    });
    // If the reader is still at the top, nextHistoryRequest asks for the next page.
  }

  // ---------------------------------------------------------------------
  // After a reconnect: catching up, then reconciling
  // ---------------------------------------------------------------------

  /** Asks for the next page of messages missed while disconnected. */
  function requestMissed() {
    const after = highestId;
    requestHistory({ after, limit: HISTORY_PAGE_MAX }, (frame) => receiveMissed(frame, after));
  }

  /** A page of missed messages: add them like live ones; more to fetch if it says so. */
  function receiveMissed(frame, after) {
    const entries = Array.isArray(frame.messages) ? frame.messages : [];
    for (const msg of entries) {
      if (msg && typeof msg === "object") handlers.chat_message({ ...msg, history: true });
    }
    // Go on only while pages bring newer messages, so it can never loop.
    catchUpWanted = frame.has_more === true && highestId > after;
  }

  /**
   * Plans the re-reading of the messages that were on screen before this
   * socket opened (at most the newest RECONCILE_MAX_MESSAGES): edits,
   * deletions and reactions made while we were away are not replayed.
   */
  function planReconcile() {
    const ids = [...messagesById.keys()].filter((id) => id <= resumedAfter).sort((a, b) => b - a);
    if (ids.length === 0) return null;
    return {
      before: ids[0] + 1, // the next request asks for messages older than this
      floor: ids[Math.min(ids.length, RECONCILE_MAX_MESSAGES) - 1], // done once a page reaches it
      pages: 0,
      // While a request is out: the messages it may judge, and those whose
      // text or reactions a live frame has set since (newer than the answer, maybe).
      asked: new Set(),
      editedLive: new Set(),
      reactedLive: new Set(),
    };
  }

  /** Asks for the next (older) page of the range being reconciled. */
  function reconcileStep() {
    const run = reconcile;
    const asked = [...messagesById.keys()].filter((id) => id < run.before);
    if (asked.length === 0) {
      reconcile = null;
      return;
    }
    const sent = requestHistory(
      { before: run.before, limit: HISTORY_PAGE_MAX },
      (frame) => { if (reconcile === run) receiveReconcile(frame); },
    );
    if (!sent) return; // nextHistoryRequest tries again when the slot is free
    run.asked = new Set(asked);
    run.editedLive.clear();
    run.reactedLive.clear();
  }

  /**
   * An answer for the range being reconciled. It holds every message older
   * than `before` that still exists, down to its oldest (or all of them if it
   * says `has_more: false`): the messages that were on screen when it was
   * asked for and are missing from it were deleted, and the others get their
   * current text, edit mark and reactions.
   */
  function receiveReconcile(frame) {
    const run = reconcile;
    const answer = new Map();
    for (const msg of Array.isArray(frame.messages) ? frame.messages : []) {
      const id = msg && typeof msg === "object" ? messageId(msg.id) : null;
      if (id !== null && id < run.before) answer.set(id, msg);
    }
    const complete = frame.has_more !== true;
    if (!complete && answer.size === 0) {
      reconcile = null; // "more" but nothing in it: nothing can be judged
      return;
    }
    const oldest = complete ? -Infinity : Math.min(...answer.keys());

    const deleted = [];
    const changed = [];
    for (const id of run.asked) {
      const item = messagesById.get(id);
      if (item === undefined || id < oldest) continue;
      const msg = answer.get(id);
      if (msg === undefined) deleted.push(id);
      else changed.push([item, msg, id]);
    }
    keepView(() => {
      for (const [item, msg, id] of changed) {
        refreshMessage(item, msg, { text: !run.editedLive.has(id), reactions: !run.reactedLive.has(id) });
      }
      for (const id of deleted) removeMessage(id);
    }, new Set(deleted.map((id) => messagesById.get(id))));

    run.pages += 1;
    if (complete || oldest <= run.floor || run.pages >= RECONCILE_MAX_PAGES) reconcile = null;
    else run.before = oldest;
  }

  /** Brings a message on screen up to date with `msg`, a message object from the server. */
  function refreshMessage(item, msg, { text = true, reactions = true } = {}) {
    if (text && typeof msg.message === "string") {
      setMessageText(item, msg.message);
      if (msg.edited_at) markEdited(item, msg.edited_at);
    }
    if (reactions) renderReactions(item, msg.reactions);
  }

  function setMessageText(item, text) {
    const node = item.querySelector(".message-text");
    if (node.textContent !== text) node.textContent = text;
  }

  // ---------------------------------------------------------------------
  // Message actions: tap to reveal, edit, delete, react
  // ---------------------------------------------------------------------

  /**
   * Phones have no hover: a tap on a message shows its toolbar (one at a
   * time, until the action is done or someone taps elsewhere).
   */
  function setActive(item) {
    if (activeItem === item) return;
    if (activeItem) activeItem.classList.remove("is-active");
    activeItem = item;
    if (!item) return;
    item.classList.add("is-active");
    // On phones the toolbar opens below the bubble; keep it on screen.
    const bar = item.querySelector(".message-actions");
    if (bar && narrowScreen.matches) bar.scrollIntoView({ block: "nearest" });
  }

  /**
   * Closes the reaction picker and any delete confirmation; returns the
   * button that opened the popup (for focus to go back to), if there was one.
   */
  function closePopups() {
    let opener = null;
    for (const popup of log.querySelectorAll(".reaction-picker, .delete-confirm")) {
      opener = popup.classList.contains("reaction-picker")
        ? pickerOpener
        : popup.closest(".message").querySelector(".action-delete");
      popup.remove();
    }
    if (pickerOpener !== null) pickerOpener.setAttribute("aria-expanded", "false");
    pickerOpener = null;
    return opener !== null && opener.isConnected ? opener : null;
  }

  /** Shows a freshly opened popup inside a message, scrolled into view, focused. */
  function openPopup(item, popup, focusTarget) {
    item.querySelector(".message-body").after(popup);
    popup.scrollIntoView({ block: "nearest" });
    focusTarget.focus({ preventScroll: true });
  }

  // Editing. The text on screen changes only when the server confirms
  // (message_edited), so every client shows the same thing.

  function startEdit(item) {
    closePopups();
    const open = log.querySelector(".message.is-editing");
    if (open && open !== item) closeEditor(open);
    if (item.classList.contains("is-editing")) {
      item.querySelector(".edit-input").focus();
      return;
    }

    const text = item.querySelector(".message-text");
    const area = el("textarea", "edit-input");
    area.value = text.textContent;
    area.rows = 1;
    area.setAttribute("aria-label", "Edit message");

    const bar = el("div", "edit-bar");
    const hint = el("span", "edit-hint", "Enter to save · Esc to cancel");
    const buttons = el("span", "edit-buttons");
    buttons.append(button("btn btn-ghost btn-sm edit-cancel", "Cancel"), button("btn btn-primary btn-sm edit-save", "Save"));
    bar.append(hint, buttons);

    const editor = el("div", "message-editor");
    editor.append(area, bar);
    item.classList.add("is-editing");
    text.hidden = true;
    text.after(editor);

    fitHeight(area, EDITOR_MAX_LINES);
    editor.scrollIntoView({ block: "nearest" });
    area.focus({ preventScroll: true });
    area.setSelectionRange(area.value.length, area.value.length);
  }

  function closeEditor(item) {
    const editor = item.querySelector(".message-editor");
    if (!editor) return;
    const hadFocus = editor.contains(document.activeElement);
    editor.remove();
    item.querySelector(".message-text").hidden = false;
    item.classList.remove("is-editing");
    setActive(null);
    // Back to the edit button for keyboard users. Not on touch screens: after
    // Enter on an on-screen keyboard that focus counts as keyboard focus and
    // shows the toolbar (opening a gap under the bubble, style.css section
    // 15), and the next tap, which takes the focus away, would close that gap
    // under the finger and land on whatever moved there.
    if (hadFocus && !coarsePointer.matches) item.querySelector(".action-edit").focus({ preventScroll: true });
  }

  function saveEdit(item) {
    const area = item.querySelector(".edit-input");
    if (!area) return;
    const text = area.value;
    if (text === item.querySelector(".message-text").textContent) {
      closeEditor(item); // unchanged: nothing to send
      return;
    }
    if (text.trim() === "") {
      showNotice("A message can't be empty. To remove it, delete it instead.");
      return;
    }
    const n = charCount(text);
    if (n > MAX_CHARS) {
      showNotice(`Your message is ${n} characters long; the limit is ${MAX_CHARS}.`);
      return;
    }
    if (!send({ type: "edit_message", id: Number(item.dataset.id), message: text })) {
      showNotice(NOT_CONNECTED);
      return;
    }
    closeEditor(item);
    item.classList.add("is-pending"); // until message_edited (or an error) arrives
  }

  function onEditorKey(event, item) {
    if (isPlainEnter(event)) {
      event.preventDefault();
      saveEdit(item);
    } else if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      closeEditor(item);
    }
  }

  // Deleting: confirmed inline, removed when the server says message_deleted.

  function askDelete(item) {
    closePopups();
    const box = el("div", "delete-confirm");
    box.setAttribute("role", "group");
    box.setAttribute("aria-label", "Confirm delete");
    const cancel = button("btn btn-ghost btn-sm cancel-delete", "Cancel");
    box.append(
      el("span", "delete-confirm-text", "Delete this message?"),
      button("btn btn-danger btn-sm confirm-delete", "Delete"),
      cancel,
    );
    openPopup(item, box, cancel); // focus on the harmless choice
  }

  function confirmDelete(item) {
    closePopups();
    setActive(null);
    if (!send({ type: "delete_message", id: Number(item.dataset.id) })) {
      showNotice(NOT_CONNECTED);
      return;
    }
    item.classList.add("is-pending");
  }

  function cancelPopup(item) {
    const opener = closePopups();
    setActive(null);
    // Focus goes back for keyboard users; style.css shows the toolbar only
    // when that focus is keyboard focus (:focus-visible), not after a tap.
    const back = opener || item.querySelector(".action-react");
    if (back) back.focus({ preventScroll: true });
  }

  // Reactions: every click is a toggle on the server; chips change only when
  // its `reactions` frame (the full state) arrives.

  /**
   * Opens the picker (a popover over the log; a bottom sheet on phones),
   * or closes it if `opener` had opened it. One tab stop: the arrow keys,
   * Home and End move inside it, Enter picks, Escape, a click outside or
   * Tab away close it.
   */
  function togglePicker(item, opener) {
    const wasOpen = opener === pickerOpener;
    closePopups();
    if (wasOpen) return;

    const picker = el("div", "reaction-picker");
    picker.setAttribute("role", "dialog");
    picker.setAttribute("aria-label", "Add a reaction");
    const grid = el("div", "reaction-grid");
    for (const [emoji, name] of REACTION_EMOJI) {
      const option = button("reaction-option", emoji, name);
      option.dataset.emoji = emoji;
      option.tabIndex = -1;
      grid.append(option);
    }
    const first = grid.firstElementChild;
    first.tabIndex = 0;
    picker.append(grid);
    picker.addEventListener("focusout", (event) => {
      // Focus moving elsewhere (not to nowhere, as on a click on the page:
      // the click handlers decide then) closes it.
      const to = event.relatedTarget;
      if (to !== null && !picker.contains(to) && to !== pickerOpener && picker.isConnected) closePopups();
    });

    pickerOpener = opener;
    opener.setAttribute("aria-expanded", "true");
    item.append(picker);
    placePicker(item, picker);
    first.focus({ preventScroll: true });
  }

  /** Below the message if it fits in the visible log, else above if there is more room there. */
  function placePicker(item, picker) {
    if (narrowScreen.matches) return; // a bottom sheet (style.css, section 15)
    const view = log.getBoundingClientRect();
    const box = item.getBoundingClientRect();
    const below = view.bottom - box.bottom;
    const above = box.top - view.top;
    if (picker.offsetHeight > below && above > below) picker.classList.add("is-above");
    picker.scrollIntoView({ block: "nearest" });
  }

  /** Moves focus in the picker's grid for arrow keys, Home and End; true if the key was one. */
  function onPickerKey(event, option) {
    const grid = option.parentElement;
    const options = [...grid.children];
    const columns = getComputedStyle(grid).gridTemplateColumns.split(" ").length || 1;
    const at = options.indexOf(option);
    let to;
    switch (event.key) {
      case "ArrowLeft": to = at - 1; break;
      case "ArrowRight": to = at + 1; break;
      case "ArrowUp": to = at - columns; break;
      case "ArrowDown": to = at + columns; break;
      case "Home": to = 0; break;
      case "End": to = options.length - 1; break;
      default: return false;
    }
    event.preventDefault();
    const next = options[to];
    if (next) {
      option.tabIndex = -1;
      next.tabIndex = 0;
      next.focus();
    }
    return true;
  }

  function react(item, emoji) {
    if (!emoji) return;
    if (!send({ type: "react", id: Number(item.dataset.id), emoji })) showNotice(NOT_CONNECTED);
  }

  function pickReaction(item, emoji) {
    const opener = closePopups();
    setActive(null);
    react(item, emoji);
    (opener || item.querySelector(".action-react")).focus({ preventScroll: true });
  }

  /** Clicks inside the log, by the first selector the clicked element matches. */
  const LOG_ACTIONS = [
    ["[data-pm-to]", (target) => startPrivateMessage(target.dataset.pmTo)],
    [".action-react, .reaction-add", (target, item) => togglePicker(item, target)],
    [".reaction-option", (target, item) => pickReaction(item, target.dataset.emoji)],
    [".reaction-chip", (target, item) => react(item, target.dataset.emoji)],
    [".action-edit", (_, item) => startEdit(item)],
    [".edit-save", (_, item) => saveEdit(item)],
    [".edit-cancel", (_, item) => closeEditor(item)],
    [".action-delete", (_, item) => askDelete(item)],
    [".confirm-delete", (_, item) => confirmDelete(item)],
    [".cancel-delete", (_, item) => cancelPopup(item)],
  ];

  function onLogClick(event) {
    // A click outside an open popup closes it; its opener toggles it instead.
    if (!event.target.closest(".reaction-picker, .delete-confirm, .action-react, .reaction-add")) closePopups();
    for (const [selector, action] of LOG_ACTIONS) {
      const target = event.target.closest(selector);
      if (target && log.contains(target)) {
        action(target, target.closest(".message"));
        return;
      }
    }
    if (event.target.closest("button, textarea, a, .reaction-picker, .delete-confirm")) return;
    // A tap elsewhere on a message toggles its toolbar; anywhere else hides it.
    const item = event.target.closest(".message[data-id]");
    setActive(item && item !== activeItem ? item : null);
  }

  function onLogKeydown(event) {
    const editor = event.target.closest(".edit-input");
    if (editor) {
      onEditorKey(event, editor.closest(".message"));
      return;
    }
    const option = event.target.closest(".reaction-option");
    if (option && onPickerKey(event, option)) return;
    if (event.key !== "Escape") return;
    const opener = closePopups();
    if (opener) opener.focus({ preventScroll: true });
    setActive(null);
  }

  // ---------------------------------------------------------------------
  // Typing: ours (sent) and everyone else's (#typing-indicator)
  // ---------------------------------------------------------------------

  /** A /pm is not room talk: don't tell the room we are typing it. */
  function isPrivateCommand(text) {
    return /^\/pm(\s|$)/.test(text);
  }

  /** Called on every edit of the composer. */
  function noteTyping() {
    const text = input.value;
    if (text.trim() === "" || isPrivateCommand(text)) {
      stopTyping();
      return;
    }
    clearTimeout(typingIdleTimer);
    typingIdleTimer = setTimeout(stopTyping, TYPING_IDLE_MS);
    const now = Date.now();
    if (now - typingSentAt >= TYPING_REFRESH_MS && send({ type: "typing", typing: true })) typingSentAt = now;
  }

  function stopTyping() {
    clearTimeout(typingIdleTimer);
    if (typingSentAt === 0) return; // we never said we were typing
    typingSentAt = 0;
    send({ type: "typing", typing: false });
  }

  /** Someone else started or stopped typing; a start lapses by itself. */
  function setTyping(user, isTyping) {
    if (!user || user === ME) return;
    const known = typingUsers.has(user);
    clearTimeout(typingUsers.get(user));
    if (isTyping) {
      typingUsers.set(user, setTimeout(() => setTyping(user, false), TYPING_EXPIRE_MS));
    } else {
      typingUsers.delete(user);
    }
    if (known !== isTyping) renderTyping();
  }

  function typingLabel(names) {
    switch (names.length) {
      case 0: return "";
      case 1: return `${names[0]} is typing…`;
      case 2: return `${names[0]} and ${names[1]} are typing…`;
      default: return "several people are typing…";
    }
  }

  function renderTyping() {
    const names = [...typingUsers.keys()];
    typingText.textContent = typingLabel(names);
    typingIndicator.classList.toggle("is-active", names.length > 0);
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
        const b = button("user-name user-pm", name);
        b.dataset.pmTo = name;
        b.title = `Send ${name} a private message`;
        li.append(b);
      }
      return li;
    });
    userList.replaceChildren(...items);
    onlineCount.textContent = String(names.length);
  }

  // ---------------------------------------------------------------------
  // Composer
  // ---------------------------------------------------------------------

  function autosize() {
    fitHeight(input, COMPOSER_MAX_LINES);
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
    stopTyping();
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
    if (!send({ type: "chat_message", message: text })) {
      showNotice("Not connected. Your message is still here; send it once you are back online.");
      return;
    }
    pendingText = text;
    stopTyping();
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

  /** Edits and deletes waiting for the server look dimmed; clear them once it refused or went away. */
  function clearPending() {
    for (const item of log.querySelectorAll(".message.is-pending")) item.classList.remove("is-pending");
  }

  // ---------------------------------------------------------------------
  // Frame handlers: one function per server frame type
  // ---------------------------------------------------------------------

  const handlers = {
    chat_message(frame) {
      const id = messageId(frame.id);
      if (id === null) return;
      highestId = Math.max(highestId, id);
      if (frame.history && joining) joinHistoryCount += 1;
      if (messagesById.has(id)) {
        // A resume starts a little before the last id seen: what comes again
        // comes in its current state.
        if (frame.history) keepPinned(() => refreshMessage(messagesById.get(id), frame));
        return;
      }
      const user = str(frame.user);
      const mine = user === ME;
      if (!frame.history) {
        setTyping(user, false); // they sent what they were typing
        if (mine) pendingText = null; // our send was accepted
      }
      const item = renderMessage({ ...frame, id });
      messagesById.set(id, item);
      addToLog(() => insertRoomMessage(item, id), { force: mine && !frame.history });
    },

    history(frame) {
      receiveHistoryAnswer(frame);
    },

    resumed(frame) {
      // The catch-up burst is over. If it was capped, fetch the rest; then
      // re-read what was already on screen, for what changed while away.
      resumedSeen = true;
      catchUpWanted = frame.has_more === true;
      reconcile = planReconcile();
      nextHistoryRequest();
    },

    message_edited(frame) {
      const id = messageId(frame.id);
      const item = messagesById.get(id);
      if (!item) return;
      if (reconcile !== null) reconcile.editedLive.add(id);
      keepPinned(() => {
        setMessageText(item, str(frame.message));
        markEdited(item, frame.edited_at);
        item.classList.remove("is-pending");
      });
    },

    message_deleted(frame) {
      removeMessage(messageId(frame.id));
    },

    reactions(frame) {
      const id = messageId(frame.id);
      const item = messagesById.get(id);
      if (!item) return;
      if (reconcile !== null) reconcile.reactedLive.add(id);
      keepPinned(() => renderReactions(item, frame.reactions));
    },

    typing(frame) {
      setTyping(str(frame.user), frame.typing === true);
    },

    user_list(frame) {
      online.clear();
      for (const name of Array.isArray(frame.users) ? frame.users : []) {
        if (typeof name === "string") online.add(name);
      }
      onlinePanel.classList.remove("is-stale");
      renderUserList();
      // Protocol: user_list follows the join replay, so it also marks its end.
      if (joining) finishJoin();
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
      setTyping(user, false);
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
      const code = str(frame.code);
      showNotice(str(frame.message) || ERROR_TEXT[code] || "Something went wrong.");
      if (pendingText !== null && RESTORE_ON_ERROR.has(code)) {
        // Give the refused text back, unless the user has started typing anew.
        if (input.value.trim() === "") setComposerText(pendingText);
        pendingText = null;
      }
      // Errors don't say which frame they answer: un-dim everything waiting.
      // A history request out keeps its slot: its answer may still come, and
      // a second request must not go out before it (see HISTORY_STUCK_MS).
      clearPending();
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
    if (resetOnNextFrame) {
      // First frame of a new connection: the server replays the latest
      // messages now, so the old view (possibly with gaps, stale edits and
      // reactions) goes. Private messages are never replayed, as on a reload.
      resetOnNextFrame = false;
      resetView();
    }
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
    const base = `${scheme}://${location.host}/ws/chat/${encodeURIComponent(ROOM)}/`;
    return highestId > 0 ? `${base}?after=${highestId}` : base;
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
      // With messages on screen, the server sends only what we missed
      // (socketUrl asked for it): keep the view. Otherwise start afresh.
      resuming = highestId > 0;
      resumedAfter = highestId;
      resumedSeen = false;
      resetOnNextFrame = !resuming;
      joining = true;
      setStatus("online");
      wasConnected = true;
    });
    ws.addEventListener("message", (event) => {
      if (socket === ws) onFrame(event);
    });
    ws.addEventListener("close", () => {
      if (socket !== ws) return;
      socket = null;
      // Whatever was waiting for an answer will not get one from this socket.
      pendingText = null;
      typingSentAt = 0;
      clearTimeout(typingIdleTimer);
      clearPending();
      dropHistoryRequest();
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
      dropHistoryRequest(); // its close event no longer reaches us
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
    if (isPlainEnter(event)) {
      event.preventDefault();
      sendMessage();
    } else if (event.key === "Escape" && !notice.hidden) {
      hideNotice();
    }
  });

  input.addEventListener("input", () => {
    autosize();
    updateCounter();
    noteTyping();
  });

  // Private-message shortcuts in the online list; everything clickable in
  // the log goes through LOG_ACTIONS.
  userList.addEventListener("click", (event) => {
    const target = event.target.closest("[data-pm-to]");
    if (target) startPrivateMessage(target.dataset.pmTo);
  });
  log.addEventListener("click", onLogClick);
  log.addEventListener("keydown", onLogKeydown);
  log.addEventListener("input", (event) => {
    if (event.target.classList.contains("edit-input")) fitHeight(event.target, EDITOR_MAX_LINES);
  });
  // A click outside the log closes the picker and hides a tapped toolbar.
  document.addEventListener("click", (event) => {
    // A button that removed itself (Save, Delete, a picked emoji) is no longer
    // in the log, but its click was still inside it.
    if (!event.target.isConnected || log.contains(event.target)) return;
    closePopups();
    setActive(null);
  });

  log.addEventListener("scroll", () => {
    if (!newMessagesButton.hidden && isNearBottom()) newMessagesButton.hidden = true;
    maybeLoadOlder();
  }, { passive: true });
  newMessagesButton.addEventListener("click", () => scrollToBottom(true));

  noticeClose.addEventListener("click", hideNotice);
  // Don't fade a notice away while someone is reading or focusing it.
  notice.addEventListener("mouseenter", () => clearTimeout(noticeTimer));
  notice.addEventListener("mouseleave", () => { if (!notice.hidden) armNoticeTimer(); });
  notice.addEventListener("focusin", () => clearTimeout(noticeTimer));

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
  const fullPlaceholder = input.getAttribute("placeholder") || "";
  const applyPlaceholder = () => {
    input.setAttribute("placeholder", narrowScreen.matches ? `Message #${ROOM}` : fullPlaceholder);
  };
  narrowScreen.addEventListener("change", applyPlaceholder);
  applyPlaceholder();

  setHistoryState("idle");
  renderTyping();
  autosize();
  updateCounter();
  connect();
})();
