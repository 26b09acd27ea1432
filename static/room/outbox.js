// The outbox: every room post from the moment it is sent until the server
// has it, so that no text is lost to a dropped connection or a refusal and
// none is stored twice (docs/protocol.md, "Sending exactly once").
//
// Each post gets a `client_id` and waits at the end of the log, looking
// like one's own message with "sending…" under it. Its echo (or, for a post
// sent again, the server's answer naming the stored message), matched by
// `client_id`, replaces it with the real message. While the socket is
// down, or after a refusal worth retrying (rate_limited, unavailable,
// internal, not_ready), it says "not sent — retrying" and goes out again,
// with the same `client_id`, when the socket is back or the wait the
// server named is over: the server stores a `client_id` once, so sending
// again is always safe. A refusal that retrying cannot fix (too long,
// forbidden…) takes the text out of the outbox and gives it back to the
// composer, with the error, as the composer always did.
//
// The outbox is kept in sessionStorage, per room and user: a reload of the
// tab keeps it (and sends it), while another tab of the same room neither
// shows it nor races to send it, and closing the tab ends it rather than
// having it sent days later from wherever the room is next opened.

import { addOutgoing, removeOutgoing } from "./log.js";
import { ME, ROOM } from "./page.js";
import { renderOutgoing, setOutgoingState } from "./render.js";
import { send } from "./socket.js";

/** Refusals that sending again later can get past. */
const RETRYABLE = new Set(["rate_limited", "unavailable", "internal", "not_ready"]);
/** Without a `retry_after_ms`, retries wait 1 s, 2 s, 4 s … up to 30 s. */
const RETRY_BASE_MS = 1000;
const RETRY_MAX_MS = 30000;
const STORAGE_KEY = `confab.outbox:${ROOM}:${ME}`;

/** client_id → { clientId, text, replyTo, item, attempts, timer }, oldest first; `replyTo` is the quote ({ id, user, excerpt }) of the message it answers, or null. */
const entries = new Map();
/** The server closed the room for good: nothing more goes out. */
let halted = false;

/** A new client_id: a UUID (randomUUID needs a secure context; the fallback does not). */
export function newClientId() {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function save() {
  const kept = [...entries.values()].map(({ clientId, text, replyTo }) => ({ clientId, text, replyTo }));
  try {
    if (kept.length === 0) sessionStorage.removeItem(STORAGE_KEY);
    else sessionStorage.setItem(STORAGE_KEY, JSON.stringify(kept));
  } catch {
    // Storage off or full: the outbox still works until the tab closes.
  }
}

function setState(entry, state) {
  setOutgoingState(entry.item, state);
}

function add(clientId, text, replyTo) {
  const entry = { clientId, text, replyTo, item: renderOutgoing(text, replyTo), attempts: 0, timer: 0 };
  entry.item.dataset.clientId = clientId;
  entries.set(clientId, entry);
  addOutgoing(entry.item);
  return entry;
}

/** Sends `entry` now if the socket is open; otherwise it waits for the next one. */
function trySend(entry) {
  clearTimeout(entry.timer);
  entry.timer = 0;
  if (halted) return;
  const frame = { type: "chat_message", message: entry.text, client_id: entry.clientId };
  if (entry.replyTo) frame.reply_to = entry.replyTo.id;
  const sent = send(frame);
  setState(entry, sent ? "sending" : "retrying");
}

/** The page opened: what the tab had not sent before a reload is shown again (and sent once connected). */
export function restore() {
  let kept = [];
  try {
    kept = JSON.parse(sessionStorage.getItem(STORAGE_KEY) || "[]");
  } catch {
    kept = [];
  }
  for (const { clientId, text, replyTo } of Array.isArray(kept) ? kept : []) {
    if (typeof clientId === "string" && typeof text === "string" && !entries.has(clientId)) {
      const quote = replyTo && Number.isSafeInteger(replyTo.id) && replyTo.id > 0 ? replyTo : null;
      setState(add(clientId, text, quote), "retrying");
    }
  }
}

/** Posts `text` to the room (a reply if `replyTo`, the quote of its original, is given), now or as soon as it can. */
export function post(text, replyTo = null) {
  const entry = add(newClientId(), text, replyTo);
  save();
  trySend(entry);
}

/** A socket opened: everything waiting goes out, oldest first. */
export function flush() {
  for (const entry of entries.values()) trySend(entry);
}

/** The socket closed: what went out unanswered may or may not be stored; it is sent again on the next. */
export function disconnected() {
  for (const entry of entries.values()) setState(entry, "retrying");
}

/** The server closed the room for good: say what was not sent, send nothing more. */
export function halt() {
  halted = true;
  for (const entry of entries.values()) {
    clearTimeout(entry.timer);
    setState(entry, "stopped");
  }
}

/** A room message carrying `clientId` arrived: if it is one of ours, it is sent. */
export function delivered(clientId) {
  const entry = entries.get(clientId);
  if (entry === undefined) return;
  clearTimeout(entry.timer);
  entries.delete(clientId);
  removeOutgoing(entry.item);
  save();
}

/**
 * An error answering `clientId`: null if it is not in the outbox; else
 * `{ retrying: true }` (it goes out again by itself), or `{ text }` when
 * retrying would not help: the text is out of the outbox, for the
 * composer to give back.
 */
export function refused(clientId, code, retryAfterMs) {
  const entry = entries.get(clientId);
  if (entry === undefined) return null;
  if (!RETRYABLE.has(code)) {
    clearTimeout(entry.timer);
    entries.delete(clientId);
    removeOutgoing(entry.item);
    save();
    return { text: entry.text };
  }
  entry.attempts += 1;
  const backoff = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** Math.min(entry.attempts - 1, 5));
  const wait = Number.isFinite(retryAfterMs) && retryAfterMs > 0 ? retryAfterMs : backoff;
  setState(entry, "retrying");
  clearTimeout(entry.timer);
  entry.timer = setTimeout(() => trySend(entry), wait);
  return { retrying: true };
}
