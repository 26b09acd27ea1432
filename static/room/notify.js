// Browser notifications for mentions: when someone mentions me and no tab of
// mine is focused, the system shows a notification; clicking it brings a tab
// forward at the message (/chat/<room>/?around=<id>).
//
// - Permission is asked once, from a click on the bell (#notify-toggle), as
//   browsers require; the same bell turns them off and on again, and the
//   choice is remembered (localStorage "confab.notify": "on" / "off").
// - "No tab of mine is focused": each tab writes down when it gains focus
//   (localStorage "confab.focus", refreshed while it keeps it, cleared when it
//   loses it), so a tab in the background knows whether another one is in use.
// - Several tabs get the same news: the notification's `tag` is the message
//   id, so the system shows it once; each tab also shows an id only once.
// - Every notification shown is also written in #notification-log, a
//   visually hidden list (a record for assistive technology, and for tests).
//
// The news comes as the `activity` shape of the modern protocol
// ({room, label, url, message_id, user, excerpt, mention}, docs/protocol.md):
// `notifyActivity` takes it. Until every page gets those frames, the room
// page also feeds its own live chat_message frames that mention me
// (`notifyIfMentioned`).
//
// This module runs on any page that loads it: importing it starts the focus
// bookkeeping and wires the bell if the page has one.

const SETTING = "confab.notify";
const FOCUS = "confab.focus";
/** A focused tab refreshes its mark this often; older marks are stale (a crashed tab). */
const FOCUS_BEAT_MS = 5_000;
const FOCUS_STALE_MS = 15_000;
/** Longest excerpt shown in a notification's body. */
const EXCERPT_CHARS = 140;

const tab = Math.random().toString(36).slice(2);
const shown = new Set();
const bell = document.getElementById("notify-toggle");
const record = document.getElementById("notification-log");
const me = (document.getElementById("room")?.dataset.username
  || document.body.dataset.username || "").toLowerCase();
let beat = null;

function storage() {
  try {
    return window.localStorage;
  } catch {
    return null; // storage blocked: no coordination, no remembered setting
  }
}

function supported() {
  return "Notification" in window;
}

/** Notifications are wanted: turned on with the bell, and still permitted. */
export function enabled() {
  return supported() && Notification.permission === "granted" && storage()?.getItem(SETTING) === "on";
}

/** Some tab of mine (this one included) has the focus. */
export function someTabFocused() {
  if (document.hasFocus()) return true;
  try {
    const mark = JSON.parse(storage()?.getItem(FOCUS) || "null");
    return Boolean(mark && mark.tab !== tab && Date.now() - mark.at < FOCUS_STALE_MS);
  } catch {
    return false;
  }
}

function markFocused() {
  storage()?.setItem(FOCUS, JSON.stringify({ tab, at: Date.now() }));
  clearInterval(beat);
  beat = setInterval(() => {
    if (document.hasFocus()) storage()?.setItem(FOCUS, JSON.stringify({ tab, at: Date.now() }));
  }, FOCUS_BEAT_MS);
}

function markBlurred() {
  clearInterval(beat);
  beat = null;
  try {
    const mark = JSON.parse(storage()?.getItem(FOCUS) || "null");
    if (mark && mark.tab === tab) storage()?.removeItem(FOCUS);
  } catch {
    storage()?.removeItem(FOCUS);
  }
}

function excerpt(text) {
  const flat = String(text).replace(/\s+/g, " ").trim();
  return flat.length > EXCERPT_CHARS ? `${flat.slice(0, EXCERPT_CHARS - 1)}…` : flat;
}

/** Only paths of this site are opened from a notification. */
function safePath(url, fallback) {
  return typeof url === "string" && url.startsWith("/") && !url.startsWith("//") ? url : fallback;
}

/**
 * An `activity` (a new message in one of my rooms or conversations): shown as
 * a notification if it mentions me, notifications are on, and no tab of mine
 * is focused. Returns the Notification, or null.
 */
export function notifyActivity(activity) {
  if (!activity || activity.mention !== true) return null;
  const id = Number(activity.message_id);
  if (!Number.isSafeInteger(id) || shown.has(id)) return null;
  if (!enabled() || someTabFocused()) return null;
  const user = typeof activity.user === "string" ? activity.user : "someone";
  const label = typeof activity.label === "string" ? activity.label : `#${activity.room}`;
  const url = safePath(activity.url, `/chat/${encodeURIComponent(String(activity.room))}/?around=${id}`);
  let notification;
  try {
    notification = new Notification(`${user} mentioned you in ${label}`, {
      body: excerpt(activity.excerpt ?? ""),
      tag: String(id),
      icon: "/static/favicon.svg",
      data: { url },
    });
  } catch {
    return null; // e.g. a browser that only shows them from a service worker
  }
  shown.add(id);
  notification.addEventListener("click", () => {
    window.focus();
    notification.close();
    window.location.assign(url);
  });
  if (record) {
    const item = document.createElement("li");
    item.dataset.messageId = String(id);
    item.dataset.url = url;
    item.textContent = `${notification.title}: ${notification.body}`;
    record.append(item);
  }
  return notification;
}

/** A live chat_message of the room `room`: notified like an activity if it mentions me. */
export function notifyIfMentioned(frame, room) {
  if (!frame || frame.history || !Array.isArray(frame.mentions) || !me) return null;
  if (!frame.mentions.some((name) => typeof name === "string" && name.toLowerCase() === me)) return null;
  const id = Number(frame.id);
  return notifyActivity({
    room,
    label: `#${room}`,
    url: `/chat/${encodeURIComponent(room)}/?around=${id}`,
    message_id: id,
    user: frame.user,
    excerpt: frame.message,
    mention: true,
  });
}

function renderBell() {
  if (!bell) return;
  if (!supported() || Notification.permission === "denied") {
    bell.setAttribute("aria-pressed", "false");
    bell.disabled = !supported();
    bell.title = supported()
      ? "Notifications are blocked for this site in your browser's settings"
      : "This browser cannot show notifications";
    bell.querySelector(".notify-label").textContent = "Notifications off";
    return;
  }
  const on = enabled();
  bell.setAttribute("aria-pressed", String(on));
  bell.title = on
    ? "You get a notification when someone mentions you and confab is not in front. Click to turn off."
    : "Get a notification when someone mentions you";
  bell.querySelector(".notify-label").textContent = on ? "Notifications on" : "Notify me";
}

async function toggle() {
  if (!supported()) return;
  if (enabled()) {
    storage()?.setItem(SETTING, "off");
  } else {
    // Asked here, from the click: browsers refuse to ask otherwise.
    const answer = Notification.permission === "granted"
      ? "granted"
      : await Notification.requestPermission();
    if (answer === "granted") storage()?.setItem(SETTING, "on");
  }
  renderBell();
}

window.addEventListener("focus", markFocused);
window.addEventListener("blur", markBlurred);
window.addEventListener("pagehide", markBlurred);
window.addEventListener("storage", (event) => {
  if (event.key === SETTING) renderBell();
});
if (document.hasFocus()) markFocused();
if (bell) {
  bell.hidden = false;
  bell.addEventListener("click", toggle);
  renderBell();
  // Permission changed in the browser's settings: the bell follows.
  navigator.permissions?.query({ name: "notifications" })
    .then((status) => status.addEventListener("change", renderBell))
    .catch(() => {});
}
