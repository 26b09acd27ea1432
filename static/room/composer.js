// The composer (#composer): the message box that grows with its text, the
// character counter near the limit, and "/pm name text" for private
// messages. Room posts go to the outbox (outbox.js), which keeps them until
// the server has them; a private message is sent only while connected and
// kept here, by its client_id, until it is delivered or refused (a refused
// text is given back, never lost). Private messages are not stored, so they
// are not sent again by themselves: a second try could deliver one twice.
//
// "Reply" on a message (actions.js) makes the next post a reply to it: the
// banner above the box (#reply-banner) quotes it until the post is sent or
// the reply is cancelled (Esc in the box, or ×).
//
// Whether a post may go out now (muted, a locked room, slow mode's wait)
// is standing.js's to say; it also keeps the send button.

import { fitHeight, isPlainEnter } from "./dom.js";
import { isAway, jumpToLatest } from "./jump.js";
import { parse, plainText } from "./markdown.js";
import { hideNotice, isNoticeShown, showNotice } from "./notice.js";
import { newClientId, post } from "./outbox.js";
import {
  counter, input, MAX_CHARS, narrowScreen, replyBanner, replyBannerText, replyBannerUser,
} from "./page.js";
import { excerptOf, messageText } from "./render.js";
import { send } from "./socket.js";
import { notePosted, refusePost, setEnded } from "./standing.js";
import { noteTyping, stopTyping } from "./typing.js";
import { charCount } from "./values.js";

/** The counter appears in the last 10% before the limit. */
const COUNTER_FROM = Math.floor(MAX_CHARS * 0.9);
/** The composer grows up to this many lines, then scrolls. */
const COMPOSER_MAX_LINES = 6;
/** Private messages sent and not yet delivered or refused: client_id → text. */
const pendingPrivate = new Map();
/** The quote of the message the next post replies to ({ id, user, excerpt }), or null. */
let replyTarget = null;

export function autosize() {
  fitHeight(input, COMPOSER_MAX_LINES);
}

export function updateCounter() {
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
export function startPrivateMessage(name) {
  const rest = input.value.replace(/^\/pm\s+\S+\s?/, "");
  setComposerText(`/pm ${name} ${rest}`);
  stopTyping();
  input.focus();
  input.setSelectionRange(input.value.length, input.value.length);
}

/** The next post replies to room message `item`. */
export function startReply(item) {
  const id = Number(item.dataset.id);
  if (!Number.isSafeInteger(id) || id <= 0) return;
  replyTarget = { id, user: item.dataset.user || "", excerpt: excerptOf(messageText(item)) };
  replyBannerUser.textContent = replyTarget.user;
  replyBannerText.textContent = plainText(parse(replyTarget.excerpt));
  replyBanner.hidden = false;
  input.focus();
}

/** The next post is not a reply after all. */
export function cancelReply() {
  replyTarget = null;
  replyBanner.hidden = true;
}

/** Message `id` was deleted: it can no longer be replied to. */
export function replyGone(id) {
  if (replyTarget === null || replyTarget.id !== id) return;
  cancelReply();
  showNotice("The message you were replying to was deleted.");
}

function sendMessage() {
  const text = input.value;
  if (text.trim() === "") return; // nothing to say; the server would refuse it anyway
  const n = charCount(text);
  if (n > MAX_CHARS) {
    showNotice(`Your message is ${n} characters long; the limit is ${MAX_CHARS}.`);
    return;
  }
  if (/^\/pm(\s|$)/.test(text)) {
    const clientId = newClientId();
    if (!send({ type: "chat_message", message: text, client_id: clientId })) {
      showNotice("Not connected. Your private message is still here; send it once you are back online.");
      return;
    }
    pendingPrivate.set(clientId, text);
  } else {
    // Muted, a locked room, slow mode: the server would refuse it. The
    // text stays in the box, and the notice says why.
    const refused = refusePost();
    if (refused) {
      showNotice(refused);
      return;
    }
    // What one sends shows at the live end: go there if the log is away.
    if (isAway()) jumpToLatest();
    post(text, replyTarget);
    notePosted();
    cancelReply();
  }
  stopTyping();
  setComposerText("");
  hideNotice();
}

/** A private message we sent with `clientId` was delivered. */
export function privateDelivered(clientId) {
  pendingPrivate.delete(clientId);
}

/** The socket closed: the private messages out will not be answered (nor sent again). */
export function forgetPrivate() {
  pendingPrivate.clear();
}

/** Puts a refused text back in the composer, in front of anything typed since. */
export function giveBack(text) {
  const typed = input.value.trim() === "" ? "" : input.value;
  setComposerText(typed ? `${text}\n${typed}` : text);
}

/** An error answering `clientId`: if it refused a private message of ours, its text comes back. True if it did. */
export function giveBackPrivate(clientId) {
  const text = pendingPrivate.get(clientId);
  if (text === undefined) return false;
  pendingPrivate.delete(clientId);
  giveBack(text);
  return true;
}

/**
 * Posts can be sent (into the outbox) whether or not the socket is open;
 * not once the room has ended (and not while the room's rules close the
 * composer: standing.js).
 */
export function setSendable(can) {
  setEnded(!can);
}

export function onSubmit(event) {
  event.preventDefault();
  sendMessage();
  input.focus();
}

export function onKeydown(event) {
  if (isPlainEnter(event)) {
    event.preventDefault();
    sendMessage();
  } else if (event.key === "Escape" && isNoticeShown()) {
    hideNotice();
  } else if (event.key === "Escape" && replyTarget !== null) {
    cancelReply();
  }
}

export function onInput() {
  autosize();
  updateCounter();
  noteTyping(input.value);
}

// Phones have no Shift+Enter: keep only the useful part of the placeholder
// there ("Message #room", "Message @bob", "Note to self"), so it fits on
// one line.
const fullPlaceholder = input?.getAttribute("placeholder") || "";
const shortPlaceholder = fullPlaceholder.split(" — ")[0];

export function applyPlaceholder() {
  input.setAttribute("placeholder", narrowScreen.matches ? shortPlaceholder : fullPlaceholder);
}
