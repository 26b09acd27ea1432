// confab — the sidebar on every signed-in page (templates/base.html): my
// rooms and direct conversations, each with its unread count and a separate
// mention badge, the current one highlighted; a drawer on phone widths.
//
// The server renders the list (so it is there without JavaScript); this
// module keeps it live. On a room page the room's socket (opened with
// `?v=2`) feeds it: an `unread` list when it joins (and when I join or
// leave a room), `read_marker` when I read anywhere, `activity` for each
// new message in my rooms (docs/protocol.md). Pages without a room socket
// ask `/me/unread/` every POLL_MS while visible, and at once when the tab
// comes back into view.
//
// User text (labels) only ever goes in through textContent.

/** How often a page without a room socket refreshes its counts. */
const POLL_MS = 5000;

const nav = document.getElementById("sidebar");
const toggle = document.getElementById("sidebar-toggle");
const toggleCount = document.getElementById("sidebar-toggle-count");
const backdrop = document.getElementById("sidebar-backdrop");
const lists = {
  room: document.getElementById("sidebar-rooms"),
  direct: document.getElementById("sidebar-direct"),
};
const current = nav ? nav.dataset.current || "" : "";

/** Room name → {room, label, kind, url, unread, mentions, last_read_id}. */
const places = new Map();
/** A room socket feeds the sidebar: no polling. */
let fed = false;
let pollTimer = 0;

const count = (n) => (Number.isSafeInteger(n) && n > 0 ? n : 0);
const text = (s) => (typeof s === "string" ? s : "");

function place(view) {
  return {
    room: text(view.room),
    label: text(view.label),
    kind: view.kind === "direct" ? "direct" : "room",
    url: text(view.url),
    unread: count(view.unread),
    mentions: count(view.mentions),
    last_read_id: count(view.last_read_id),
  };
}

/** Reads the server-rendered list, so the first live change keeps the rest. */
function readRendered() {
  for (const link of nav.querySelectorAll(".sidebar-link")) {
    const kind = link.closest("#sidebar-direct") ? "direct" : "room";
    places.set(link.dataset.room, {
      room: link.dataset.room,
      label: link.querySelector(".sidebar-label").textContent.replace(/^#/, ""),
      kind,
      url: link.getAttribute("href"),
      unread: Number(link.querySelector(".count-unread").textContent) || 0,
      mentions: Number(link.querySelector(".count-mention").textContent.replace("@", "")) || 0,
      last_read_id: 0,
    });
  }
}

function badge(kind, n, prefix) {
  const el = document.createElement("span");
  el.className = `count count-${kind}`;
  el.title = kind === "mention" ? "mentions" : "unread";
  el.textContent = `${prefix}${n}`;
  el.hidden = n === 0;
  return el;
}

function link(p) {
  const a = document.createElement("a");
  a.className = "sidebar-link";
  if (p.room === current) {
    a.classList.add("is-current");
    a.setAttribute("aria-current", "page");
  }
  if (p.unread > 0) a.classList.add("has-unread");
  a.href = p.url;
  a.dataset.room = p.room;
  const label = document.createElement("span");
  label.className = "sidebar-label";
  if (p.kind === "room") {
    const hash = document.createElement("span");
    hash.className = "hash";
    hash.setAttribute("aria-hidden", "true");
    hash.textContent = "#";
    label.append(hash);
  }
  label.append(p.label);
  a.append(label, badge("mention", p.mentions, "@"), badge("unread", p.unread, ""));
  const unread = p.unread > 0 ? `, ${p.unread} unread` : "";
  const mentions = p.mentions > 0 ? `, ${p.mentions} mentioning you` : "";
  a.setAttribute("aria-label", `${p.kind === "room" ? "#" : ""}${p.label}${unread}${mentions}`);
  const li = document.createElement("li");
  li.append(a);
  return li;
}

function render() {
  if (!nav) return;
  let total = 0;
  for (const kind of ["room", "direct"]) {
    const items = [...places.values()]
      .filter((p) => p.kind === kind)
      .sort((a, b) => a.label.localeCompare(b.label));
    lists[kind].replaceChildren(...items.map(link));
    const empty = nav.querySelector(`.sidebar-empty[data-for="${lists[kind].id}"]`);
    if (empty) empty.hidden = items.length > 0;
    for (const p of items) if (p.room !== current) total += p.unread;
  }
  if (toggleCount) {
    toggleCount.textContent = total > 99 ? "99+" : String(total);
    toggleCount.hidden = total === 0;
  }
}

/** `unread`: the whole list, replacing what was shown. */
export function applyUnread(rooms) {
  if (!Array.isArray(rooms)) return;
  places.clear();
  for (const view of rooms) {
    if (view && typeof view === "object") {
      const p = place(view);
      if (p.room) places.set(p.room, p);
    }
  }
  render();
}

/** `read_marker`: one room's counts now. */
export function applyMarker(view) {
  if (!view || typeof view !== "object") return;
  const p = place(view);
  if (p.room) places.set(p.room, p);
  render();
}

/**
 * `activity`: a new message in one of my rooms. The count goes up by one,
 * except in the room on screen in a focused tab, which reads it at once
 * (its `read_marker` follows).
 */
export function applyActivity(frame) {
  if (!frame || typeof frame !== "object") return;
  const view = place(frame);
  if (!view.room) return;
  const known = places.get(view.room) || { ...view, unread: 0, mentions: 0 };
  const id = count(frame.message_id);
  const reading = view.room === current && document.visibilityState === "visible" && document.hasFocus();
  if (id > known.last_read_id && !reading) {
    known.unread += 1;
    if (frame.mention === true) known.mentions += 1;
  }
  places.set(view.room, known);
  render();
}

/** The room page's socket feeds the sidebar from now on: no polling. */
export function fedBySocket() {
  fed = true;
  clearTimeout(pollTimer);
}

async function poll() {
  clearTimeout(pollTimer);
  if (fed) return;
  if (document.visibilityState === "visible") {
    try {
      const res = await fetch("/me/unread/", { headers: { Accept: "application/json" } });
      if (res.ok) applyUnread((await res.json()).rooms);
    } catch {
      // Offline for a moment: the next poll tries again.
    }
  }
  if (!fed) pollTimer = setTimeout(poll, POLL_MS);
}

// ---------------------------------------------------------------------
// The drawer (phone widths)
// ---------------------------------------------------------------------

function setOpen(open) {
  document.body.classList.toggle("sidebar-open", open);
  toggle?.setAttribute("aria-expanded", String(open));
  if (backdrop) backdrop.hidden = !open;
  if (open) nav.querySelector(".sidebar-link")?.focus();
}

if (nav) {
  readRendered();
  toggle?.addEventListener("click", () => setOpen(!document.body.classList.contains("sidebar-open")));
  backdrop?.addEventListener("click", () => setOpen(false));
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && document.body.classList.contains("sidebar-open")) {
      setOpen(false);
      toggle?.focus();
    }
  });
  render();
  // A room page wires its socket in before the first poll would go out.
  if (!document.getElementById("room")) {
    if (nav.dataset.unloaded !== undefined) poll();
    else pollTimer = setTimeout(poll, POLL_MS);
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") poll();
    });
  }
}
