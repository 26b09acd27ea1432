// Unread messages on the room page: the sidebar's frames, the "New"
// divider, telling the server what has been read, and "Mark as unread".
//
// The socket is opened with `?v=2` (socket.js), so the server sends the
// team-chat frames (docs/protocol.md): `unread` at the end of each join
// burst, `read_marker` when my marker moves (in any tab, on any instance)
// and `activity` for new messages in my rooms. All three update the sidebar
// (../sidebar.js). The first `unread` after the page opens also says how
// far I had read this room: the log scrolls to the first message after
// that, under a "New" divider, loading older pages if it is not on screen.
//
// A message counts as read once it has been on screen in a focused, visible
// tab (an IntersectionObserver over the log); the newest such message goes
// to the server as `{"type":"read"}`, at most once per READ_EVERY_MS. The
// server moves the marker forward only and tells every socket of mine.

import { applyActivity, applyMarker, applyUnread, fedBySocket } from "../sidebar.js";
import { el } from "./dom.js";
import { oldestLoadedId } from "./log.js";
import { historyStatus, LABEL, log as logEl, ME, ROOM, ROOM_KEY, ROOM_PATH } from "./page.js";
import { reachBack } from "./scrollback.js";
import { send } from "./socket.js";
import { messageId } from "./values.js";

/** Reads go out at most this often. */
const READ_EVERY_MS = 400;

/** My read marker in this room, as the server last said (null: not a member). */
let marker = null;
/** The newest message seen on screen and not yet sent as read. */
let seenUpTo = 0;
/** The newest id sent as read. */
let sentUpTo = 0;
let readTimer = 0;
/** The divider has been placed for this page (once, on the first snapshot). */
let dividerPlaced = false;
/** Messages on screen now (ids). */
const onScreen = new Set();

const observer = new IntersectionObserver((entries) => {
  for (const entry of entries) {
    const id = messageId(entry.target.dataset.id);
    if (id === null) continue;
    if (entry.isIntersecting) onScreen.add(id);
    else onScreen.delete(id);
  }
  noteSeen();
}, { root: logEl, threshold: 0.6 });

/** Whoever reads this tab is looking at it. */
function reading() {
  return document.visibilityState === "visible" && document.hasFocus();
}

/** Records the newest message on screen as read, if someone is looking. */
function noteSeen() {
  if (marker === null || !reading()) return;
  for (const id of onScreen) if (id > seenUpTo) seenUpTo = id;
  if (seenUpTo > Math.max(marker, sentUpTo) && readTimer === 0) {
    readTimer = setTimeout(sendRead, READ_EVERY_MS);
  }
}

function sendRead() {
  readTimer = 0;
  if (marker === null || seenUpTo <= Math.max(marker, sentUpTo)) return;
  if (send({ type: "read", message_id: seenUpTo })) sentUpTo = seenUpTo;
}

/** Watches every room message the log holds, now and later. */
function watchLog() {
  for (const item of logEl.querySelectorAll(".message[data-id]")) observer.observe(item);
  new MutationObserver((changes) => {
    for (const change of changes) {
      for (const node of change.addedNodes) {
        if (node.nodeType === 1 && node.matches(".message[data-id]")) observer.observe(node);
      }
      for (const node of change.removedNodes) {
        if (node.nodeType === 1 && node.dataset.id !== undefined) {
          observer.unobserve(node);
          onScreen.delete(Number(node.dataset.id));
        }
      }
    }
  }).observe(logEl, { childList: true });
}

// ---------------------------------------------------------------------
// The "New" divider
// ---------------------------------------------------------------------

/** The first message after `after` not written by me, on screen, or null. */
function firstUnreadAfter(after) {
  for (const item of logEl.querySelectorAll(".message[data-id]")) {
    if (Number(item.dataset.id) > after && item.dataset.user !== ME) return item;
  }
  return null;
}

/** Puts the divider above the first unread message and scrolls there. */
function placeDivider(after) {
  logEl.querySelector(":scope > .new-divider")?.remove();
  const first = firstUnreadAfter(after);
  if (!first) return;
  const divider = el("div", "new-divider");
  divider.setAttribute("role", "separator");
  divider.append(el("span", "new-divider-label", "New"));
  first.before(divider);
  // Scrolled to, but no further than the bottom.
  logEl.scrollTop = Math.max(0, divider.offsetTop - logEl.offsetTop - historyStatus.offsetHeight);
}

/** On opening the room: the first unread under "New", older pages loaded if need be. */
function showFirstUnread(view) {
  dividerPlaced = true;
  if (view === null || view.unread <= 0) return;
  const after = view.last_read_id;
  const oldest = oldestLoadedId();
  if (oldest !== null && oldest > after + 1) reachBack(after + 1, () => placeDivider(after));
  else placeDivider(after);
}

// ---------------------------------------------------------------------
// Frames (frames.js hands them here)
// ---------------------------------------------------------------------

function mine(view) {
  return view && typeof view === "object" && view.room === ROOM_KEY ? view : null;
}

/** The Join/Leave form of the room header follows whether the room is mine (posting joins). */
function showMembership(member) {
  const form = document.getElementById("membership-form");
  const submit = form?.querySelector("button[type=submit]");
  if (!form || !submit || (form.dataset.member === "true") === member) return;
  form.dataset.member = String(member);
  form.action = `/chat/${encodeURIComponent(ROOM)}/${member ? "leave" : "join"}`;
  submit.textContent = member ? "Leave" : "Join";
  submit.className = member ? "btn btn-ghost btn-sm" : "btn btn-secondary btn-sm";
}

export function onUnread(frame) {
  fedBySocket();
  const rooms = Array.isArray(frame.rooms) ? frame.rooms : [];
  applyUnread(rooms);
  const view = rooms.map(mine).find(Boolean) || null;
  marker = view ? messageId(view.last_read_id) ?? 0 : null;
  showMembership(view !== null);
  if (!dividerPlaced) showFirstUnread(view);
  noteSeen();
}

export function onReadMarker(frame) {
  applyMarker(frame);
  const view = mine(frame);
  if (!view) return;
  const moved = messageId(view.last_read_id) ?? 0;
  // Marked unread (here or elsewhere): the divider moves up to it, and
  // what is on screen is not read again until the reader scrolls.
  if (marker !== null && moved < marker) {
    placeDivider(moved);
    seenUpTo = moved;
    sentUpTo = moved;
    onScreen.clear();
  }
  marker = moved;
}

export function onActivity(frame) {
  applyActivity(frame);
}

/** A post of mine was stored: the room is mine now (the server made me a member). */
export function postedHere(id) {
  if (marker === null) {
    marker = id;
    showMembership(true);
    applyMarker({ ...here(), unread: 0, mentions: 0, last_read_id: id });
  }
}

/** This room as the sidebar files it. */
function here() {
  const direct = ROOM.startsWith("@");
  return { room: ROOM_KEY, label: direct ? LABEL : ROOM, kind: direct ? "direct" : "room", url: `/chat/${ROOM_PATH}/` };
}

/** Someone else's new message arrived live in this room: the sidebar counts it as `activity` would. */
export function arrivedHere(frame, id) {
  const mentions = Array.isArray(frame.mentions) ? frame.mentions : [];
  const me = ME.toLowerCase();
  applyActivity({
    ...here(),
    message_id: id,
    user: frame.user,
    mention: mentions.some((name) => typeof name === "string" && name.toLowerCase() === me),
  });
}

/** "Mark as unread" on `item`: the marker goes back to just before it; false if not sent. */
export function markUnread(item) {
  const id = messageId(item.dataset.id);
  return id !== null && send({ type: "mark_unread", message_id: id });
}

/** Whether "Mark as unread" makes sense here (the room is one of mine). */
export function canMarkUnread() {
  return marker !== null;
}

export function startReadTracking() {
  watchLog();
  const again = () => noteSeen();
  window.addEventListener("focus", again);
  document.addEventListener("visibilitychange", again);
  logEl.addEventListener("scroll", again, { passive: true });
}
