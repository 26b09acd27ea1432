// Building and updating the elements of messages: room messages (with their
// toolbar and reaction chips), private messages and system lines, and the
// times they show (in the viewer's locale and time zone). Where they go in
// the log is log.js's business; what their buttons do is actions.js's.
//
//   .message[data-id][data-user]        (.message--mine, .message--cont, .is-target)
//   .message.message--outbox[data-client-id][data-state]   a post not yet sent
//     .message-body      as wide as the bubble, so the hover time sits beside it
//       .message-meta    author + <time>
//       .message-bubble  button.message-quote[data-reply-to] (a reply's original),
//                        .message-text (formatted: markdown.js), .message-edited,
//                        .message-actions
//     (.reaction-picker / .delete-confirm while open)
//     .message-reactions  button.reaction-chip…

import { button, el, icon } from "./dom.js";
import { parse as parseMarkdown, plainText, render as renderMarkdown } from "./markdown.js";
import { IS_STAFF, ME, modMenu } from "./page.js";
import { handOverPicker } from "./popups.js";
import { positiveInt, str } from "./values.js";

// ---------------------------------------------------------------------
// Time formatting
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
// Room messages
// ---------------------------------------------------------------------

/** Builds one room message element (not yet in the document). */
export function renderMessage(msg) {
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
  const quote = renderQuote(msg.reply_to);
  if (quote) bubble.append(quote);
  bubble.append(renderText(str(msg.message)), renderToolbar(user, mine));

  const body = el("div", "message-body");
  body.append(meta, bubble);
  item.append(body, el("div", "message-reactions"));
  if (msg.edited_at) markEdited(item, msg.edited_at);
  renderReactions(item, msg.reactions);
  return item;
}

/**
 * The hover/tap toolbar: react and reply for everyone, "Mark as unread" on others'
 * messages, edit for the author, delete for the author and staff, and on
 * others' messages in a room "More actions" (report, and moderation for
 * moderators: moderate.js).
 */
function renderToolbar(user, mine) {
  const bar = el("div", "message-actions");
  bar.setAttribute("role", "group");
  bar.setAttribute("aria-label", "Message actions");

  bar.append(reactButton("message-tool action-react"));
  const reply = button("message-tool action-reply", undefined, mine ? "Reply" : `Reply to ${user}`);
  reply.append(icon("reply"));
  bar.append(reply);

  if (!mine) {
    const unread = button("message-tool action-unread", undefined, "Mark as unread");
    unread.append(icon("unread"));
    bar.append(unread);
  }
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
  if (!mine && modMenu) {
    const more = button("message-tool action-more", undefined, `More actions for ${user}'s message`);
    more.setAttribute("aria-expanded", "false");
    more.setAttribute("aria-controls", "mod-menu");
    more.append(icon("more"));
    bar.append(more);
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
export function markEdited(item, editedAt) {
  let mark = item.querySelector(".message-edited");
  if (!mark) {
    mark = el("span", "message-edited", "(edited)");
    item.querySelector(".message-text").after(mark);
  }
  mark.title = `Edited ${fmtFull.format(parseDate(editedAt))}`;
}

// ---------------------------------------------------------------------
// Reactions. The server sums each emoji up (`count`, `me`, the first few
// `users`) when it sends a message, then sends only changes (one `reaction`
// frame per toggle); the full list of who reacted comes on demand
// (`reactors`, asked for by actions.js when a chip is hovered or focused).
// Each message keeps its reactions here, in order of first use.
// ---------------------------------------------------------------------

/** message element → [{ emoji, count, me, users, complete }] */
const reactionState = new WeakMap();

/** Reads one reaction summary from a frame, or null. */
function readReaction(reaction) {
  const emoji = str(reaction && reaction.emoji);
  if (!emoji) return null;
  const users = Array.isArray(reaction.users) ? reaction.users.filter((u) => typeof u === "string") : [];
  const count = positiveInt(reaction.count, users.length);
  if (count === 0) return null;
  return { emoji, count, me: reaction.me === true, users, complete: users.length >= count };
}

/**
 * Replaces a message's reactions with `reactions` (the server's current
 * summary), then shows them.
 */
export function renderReactions(item, reactions) {
  const list = (Array.isArray(reactions) ? reactions : []).map(readReaction).filter(Boolean);
  reactionState.set(item, list);
  showReactions(item);
}

/** One user added or took back one reaction (a `reaction` frame). */
export function applyReaction(item, frame) {
  const emoji = str(frame.emoji);
  const user = str(frame.user);
  if (!emoji || !user) return;
  const added = frame.added === true;
  const count = Number.isSafeInteger(frame.count) && frame.count > 0 ? frame.count : 0;
  const list = reactionState.get(item) || [];
  let entry = list.find((r) => r.emoji === emoji);
  if (count === 0) {
    reactionState.set(item, list.filter((r) => r !== entry));
  } else {
    if (!entry) {
      entry = { emoji, count, me: false, users: [], complete: true };
      list.push(entry);
      reactionState.set(item, list);
    }
    entry.count = count;
    if (user === ME) entry.me = added;
    entry.users = entry.users.filter((u) => u !== user);
    if (added && (entry.complete || entry.users.length < 3)) entry.users.push(user);
    entry.complete = entry.complete && entry.users.length === count;
  }
  showReactions(item);
}

/** The full list of who reacted with `emoji` (a `reactors` frame). */
export function setReactors(item, emoji, users) {
  const entry = (reactionState.get(item) || []).find((r) => r.emoji === emoji);
  if (!entry || !Array.isArray(users)) return;
  entry.users = users.filter((u) => typeof u === "string");
  entry.count = Math.max(entry.users.length, 0);
  entry.complete = true;
  if (entry.count === 0) reactionState.set(item, reactionState.get(item).filter((r) => r !== entry));
  showReactions(item);
}

/** Whether the chip for `emoji` names fewer people than reacted: worth a `reactors` request. */
export function reactorsMissing(item, emoji) {
  const entry = (reactionState.get(item) || []).find((r) => r.emoji === emoji);
  return entry !== undefined && !entry.complete;
}

/**
 * Draws a message's reaction chips, followed by a small "add" button that
 * opens the picker without the hover toolbar.
 */
function showReactions(item) {
  const row = item.querySelector(".message-reactions");
  // Re-rendering drops the focused chip; put focus back on its successor.
  const had = row.contains(document.activeElement) ? document.activeElement : null;

  const chips = (reactionState.get(item) || []).map(renderChip);
  const add = reactButton("reaction-add");
  handOverPicker(row, add);
  row.replaceChildren(...chips, add);
  row.hidden = chips.length === 0;

  if (had !== null) {
    const again = had.classList.contains("reaction-add")
      ? add
      : chips.find((chip) => chip.dataset.emoji === had.dataset.emoji);
    (again && !row.hidden ? again : item.querySelector(".action-react")).focus({ preventScroll: true });
  }
}

/**
 * "you, alice, bob and 3 others": you first, then the names known (the
 * first three, or everyone once a `reactors` answer came), the rest counted.
 */
function whoReacted({ count, me, users }) {
  const others = users.filter((u) => u !== ME);
  const names = me ? ["you", ...others] : others;
  const shown = names.slice(0, Math.min(names.length, count));
  const rest = count - shown.length;
  if (rest > 0) shown.push(`${rest} ${rest === 1 ? "other" : "others"}`);
  if (shown.length <= 1) return shown.join("");
  return `${shown.slice(0, -1).join(", ")} and ${shown[shown.length - 1]}`;
}

function renderChip(reaction) {
  const { emoji, count, me } = reaction;
  const chip = button("reaction-chip");
  chip.dataset.emoji = emoji;
  chip.classList.toggle("mine", me);
  chip.setAttribute("aria-pressed", String(me));
  const who = whoReacted(reaction);
  chip.title = `${who} reacted with ${emoji}`;
  chip.setAttribute("aria-label", `${emoji} ${count}: ${who}`);
  chip.append(el("span", "reaction-emoji", emoji), el("span", "reaction-count", String(count)));
  return chip;
}

// ---------------------------------------------------------------------
// The text, formatted (markdown.js builds DOM nodes, never HTML), and the
// raw text it came from, which editing shows and quotes are cut from
// ---------------------------------------------------------------------

/** .message-text element → the text as typed. */
const rawTexts = new WeakMap();

function renderText(text) {
  const node = el("span", "message-text");
  showText(node, text);
  return node;
}

function showText(node, text) {
  rawTexts.set(node, text);
  node.replaceChildren(renderMarkdown(text, ME));
}

/** The text of a message (or post in the outbox) as its author typed it. */
export function messageText(item) {
  const node = item.querySelector(".message-text");
  return node ? rawTexts.get(node) ?? node.textContent : "";
}

export function setMessageText(item, text) {
  const node = item.querySelector(".message-text");
  if (rawTexts.get(node) !== text) showText(node, text);
}

// ---------------------------------------------------------------------
// Reply quotes: what a reply shows of its original, as the server sent
// it (`reply_to`: id, user, excerpt; or deleted), then kept up to date
// here from the original's own edits and deletion (docs/protocol.md,
// "Replies"). A click jumps to the original (actions.js).
// ---------------------------------------------------------------------

/** Most characters of the original a quote shows: as the server cuts it. */
const EXCERPT_CHARS = 100;
const graphemes = typeof Intl.Segmenter === "function" ? new Intl.Segmenter(undefined, { granularity: "grapheme" }) : null;

/** The start of `text` on one line, cut as the server cuts it (src/protocol/server.rs `excerpt`). */
export function excerptOf(text) {
  const folded = str(text).split(/\s+/).filter(Boolean).join(" ");
  const parts = graphemes ? [...graphemes.segment(folded)].map((s) => s.segment) : [...folded];
  return parts.length > EXCERPT_CHARS ? `${parts.slice(0, EXCERPT_CHARS).join("")}…` : folded;
}

/** A reply's quote of its original (`reply_to` from the server), or null if it is not a reply. */
export function renderQuote(replyTo) {
  if (!replyTo || typeof replyTo !== "object") return null;
  const id = positiveInt(replyTo.id, 0);
  if (id === 0) return null;
  const quote = button("message-quote");
  quote.dataset.replyTo = String(id);
  quote.append(el("span", "quote-author"), el("span", "quote-text"));
  if (replyTo.deleted === true) showQuoteDeleted(quote);
  else showQuote(quote, str(replyTo.user), str(replyTo.excerpt));
  return quote;
}

function showQuote(quote, user, raw) {
  // One line of the original, its formatting marks taken out (**a** → a).
  const excerpt = plainText(parseMarkdown(raw));
  quote.classList.remove("is-deleted");
  quote.dataset.user = user;
  quote.querySelector(".quote-author").textContent = user;
  quote.querySelector(".quote-text").textContent = excerpt;
  quote.setAttribute("aria-label", `Reply to ${user}: ${excerpt}. Show the original message`);
  quote.title = "Show the original message";
}

function showQuoteDeleted(quote) {
  quote.classList.add("is-deleted");
  quote.querySelector(".quote-author").textContent = "";
  quote.querySelector(".quote-text").textContent = "Original message deleted";
  quote.setAttribute("aria-label", "Reply to a message that was deleted");
  quote.title = "The original message was deleted";
}

/** The quotes on screen of message `id`. */
function quotesOf(container, id) {
  return container.querySelectorAll(`.message-quote[data-reply-to="${Number(id)}"]`);
}

/** Message `id` was edited to `text`: the quotes of it on screen say so. */
export function quotedEdited(container, id, text) {
  for (const quote of quotesOf(container, id)) {
    if (!quote.classList.contains("is-deleted")) showQuote(quote, quote.dataset.user || "", excerptOf(text));
  }
}

/** Message `id` was deleted: the quotes of it on screen say so. */
export function quotedDeleted(container, id) {
  for (const quote of quotesOf(container, id)) showQuoteDeleted(quote);
}

/** Brings a message on screen up to date with `msg`, a message object from the server. */
export function refreshMessage(item, msg, { text = true, reactions = true } = {}) {
  if (text && typeof msg.message === "string") {
    setMessageText(item, msg.message);
    if (msg.edited_at) markEdited(item, msg.edited_at);
  }
  if (reactions) renderReactions(item, msg.reactions);
}

// ---------------------------------------------------------------------
// Posts in the outbox (outbox.js): one's own text, not yet a message
// ---------------------------------------------------------------------

/** What a post in the outbox says under its text, by its state. */
const OUTGOING_STATUS = {
  sending: "sending…",
  retrying: "not sent — retrying",
  stopped: "not sent",
};

/**
 * Builds a post waiting in the outbox: like one's own message, with its
 * state where the time goes (and, for a reply, the quote it will carry).
 */
export function renderOutgoing(text, replyTo) {
  const item = el("div", "message message--mine message--outbox");
  const meta = el("div", "message-meta");
  const status = el("span", "message-status");
  meta.append(el("span", "message-author", ME), " ", status);
  const bubble = el("div", "message-bubble");
  const quote = renderQuote(replyTo);
  if (quote) bubble.append(quote);
  bubble.append(renderText(text));
  const body = el("div", "message-body");
  body.append(meta, bubble);
  item.append(body);
  setOutgoingState(item, "sending");
  return item;
}

/** `sending`, `retrying` or `stopped`. */
export function setOutgoingState(item, state) {
  item.dataset.state = state;
  item.querySelector(".message-status").textContent = OUTGOING_STATUS[state] || "";
}

// ---------------------------------------------------------------------
// Private messages and system lines
// ---------------------------------------------------------------------

/** Builds a private message element: "alice → you" or "you → bob". */
/** A username as the server accepts it: safe as it is in a URL path. */
const USERNAME = /^[A-Za-z0-9._@+-]{1,32}$/;

export function renderPrivate({ from, to, text, outgoing, createdAt }) {
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
  // Every /pm is kept in the conversation of the two: a way there.
  const other = outgoing ? to : from;
  if (USERNAME.test(other)) {
    const open = el("a", "message-conversation", "Open conversation");
    open.href = `/chat/@${other}/`;
    open.setAttribute("aria-label", `Open your conversation with ${other}`);
    meta.append(" ", open);
  }
  const bubble = el("div", "message-bubble");
  bubble.append(renderText(text));
  const body = el("div", "message-body");
  body.append(meta, bubble);
  item.append(body);
  return item;
}

export function renderSystem(text) {
  const line = el("p", "sys", text);
  line.title = fmtFull.format(new Date());
  return line;
}
