// The room's one WebSocket, and the connection status in the room header
// (#conn-status, #conn-retry, #conn-announcer). It connects, reconnects
// with backoff and sends frames; what arrives and what a new or lost
// socket means for the rest of the page are hooks wired in main.js.

import { connAnnouncer, connRetry, connStatus, connText, ROOM_PATH } from "./page.js";

const BACKOFF_BASE_MS = 1000;
const BACKOFF_MAX_MS = 30000;

/**
 * Close codes after which the server will not take this socket back
 * (docs/protocol.md, "Close codes"): 1008 (signed out, deactivated, no
 * longer admitted), 4000 (kicked: the page offers to rejoin), 4003
 * (banned), 4004 (the room was deleted), 4005 (renamed: the page moves).
 */
const FOR_GOOD = new Set([1008, 4000, 4003, 4004, 4005]);

let socket = null;
let attempt = 0; // failed connection attempts since the last successful open
let reconnectTimer = 0;
let countdownTimer = 0;
let leaving = false; // page is being hidden/unloaded: don't reconnect
let over = false; // the server closed with 1008: reconnecting would be refused
let wasConnected = false;

let hooks = {
  /** The highest message id seen: a new socket resumes after it (0: start fresh). */
  resumeAfter: () => 0,
  /** A socket opened; its frames follow. */
  opened() {},
  /** A frame arrived (a MessageEvent) on the current socket. */
  message() {},
  /** The socket closed (and a reconnect is scheduled unless the page is leaving). */
  lost() {},
  /** The page closed the socket for good: no close event will follow. */
  left() {},
  /** The server closed it for good (one of FOR_GOOD): its code and reason. */
  ended(_code, _reason) {},
  /** The status changed to or from "online". */
  statusChanged() {},
};

/** Sets the hooks (see `hooks` above); main.js calls it once. */
export function wire(wanted) {
  hooks = { ...hooks, ...wanted };
}

/** Sends one frame; false (and nothing sent) while disconnected. */
export function send(frame) {
  if (!socket || socket.readyState !== WebSocket.OPEN) return false;
  socket.send(JSON.stringify(frame));
  return true;
}

/** The current socket (or null), to check later whether it is still the one. */
export function currentSocket() {
  return socket;
}

// ---------------------------------------------------------------------
// Connection status
// ---------------------------------------------------------------------

function statusLabel(state, seconds) {
  switch (state) {
    case "online": return "online";
    case "reconnecting": return `reconnecting in ${seconds}s`;
    case "offline": return seconds ? `offline, retrying in ${seconds}s` : "offline";
    case "signed-out": return "signed out";
    case "closed": return "closed";
    default: return "connecting…";
  }
}

/** Screen readers hear each change of state once, not every countdown tick. */
function announce(state) {
  if (state === "online") connAnnouncer.textContent = wasConnected ? "Connected." : "";
  else if (state === "reconnecting") connAnnouncer.textContent = "Connection lost. Reconnecting automatically.";
  else if (state === "offline") connAnnouncer.textContent = "You are offline.";
  else if (state === "signed-out") connAnnouncer.textContent = "You were signed out.";
  else if (state === "closed") connAnnouncer.textContent = "The server closed this room's connection.";
}

function setStatus(state, seconds) {
  const label = statusLabel(state, seconds);
  if (connText.textContent !== label) connText.textContent = label;
  if (connStatus.dataset.state === state) return;

  connStatus.dataset.state = state;
  announce(state);
  connRetry.hidden = state !== "reconnecting" && state !== "offline";
  hooks.statusChanged(state === "online");
}

// ---------------------------------------------------------------------
// Connection lifecycle
// ---------------------------------------------------------------------

function socketUrl() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  // v=2: this page understands the team-chat frames (unread.js).
  const base = `${scheme}://${location.host}/ws/chat/${ROOM_PATH}/?v=2`;
  const after = hooks.resumeAfter();
  return after > 0 ? `${base}&after=${after}` : base;
}

function clearReconnect() {
  clearTimeout(reconnectTimer);
  clearInterval(countdownTimer);
  reconnectTimer = 0;
  countdownTimer = 0;
}

export function connect() {
  clearReconnect();
  if (socket || over) return;
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
    hooks.opened();
    setStatus("online");
    wasConnected = true;
  });
  ws.addEventListener("message", (event) => {
    if (socket === ws) hooks.message(event);
  });
  ws.addEventListener("close", (event) => {
    if (socket !== ws) return;
    socket = null;
    // Whatever was waiting for an answer will not get one from this socket.
    hooks.lost();
    if (FOR_GOOD.has(event.code)) {
      // Signed out, no longer allowed in, removed: a new socket would be
      // refused (403, 404) however often we tried. Say so instead.
      over = true;
      setStatus(event.code === 1008 && event.reason === "signed out" ? "signed-out" : "closed");
      hooks.ended(event.code, event.reason);
      return;
    }
    if (!leaving) scheduleReconnect();
  });
  // "error" is always followed by "close", which does the work.
}

/**
 * Exponential backoff (1s, 2s, 4s … 30s) with ±20% jitter so that every
 * client does not hammer a restarting server at the same instant. This
 * also covers failed handshakes: we keep trying. Only a close for good
 * (FOR_GOOD) stops it.
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

/** Reconnect at once (button, network back). */
export function reconnectNow() {
  if (socket) return;
  connect();
}

/** The browser says the network is gone. */
export function wentOffline() {
  if (!socket) setStatus("offline");
}

/** The page is going away: close cleanly (keeps it eligible for the back/forward cache). */
export function closeForGood() {
  leaving = true;
  clearReconnect();
  if (socket) {
    const ws = socket;
    socket = null;
    ws.close(1000, "leaving");
    hooks.left(); // its close event no longer reaches us
  }
}

/** The page came back from the back/forward cache: connect again, from a fresh backoff. */
export function restore() {
  leaving = false;
  attempt = 0;
  connect();
}
