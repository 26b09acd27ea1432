// The composer (#composer): the message box that grows with its text, the
// character counter near the limit, "/pm name text" for private messages,
// and the texts of messages sent until the server accepts or refuses them
// (a refused text is given back, never lost).

import { fitHeight, isPlainEnter } from "./dom.js";
import { hideNotice, isNoticeShown, showNotice } from "./notice.js";
import { counter, input, MAX_CHARS, narrowScreen, ROOM, sendButton } from "./page.js";
import { send } from "./socket.js";
import { noteTyping, stopTyping } from "./typing.js";
import { charCount } from "./values.js";

/** The counter appears in the last 10% before the limit. */
const COUNTER_FROM = Math.floor(MAX_CHARS * 0.9);
/** The composer grows up to this many lines, then scrolls. */
const COMPOSER_MAX_LINES = 6;
/** Error codes meaning "your last message was refused": give the text back. */
const RESTORE_ON_ERROR = new Set(["message_too_long", "empty_message", "rate_limited"]);

/**
 * Texts sent and not yet echoed back or refused, oldest first. Errors do
 * not say which frame they refuse; a refusal of a post comes when it is
 * read (before it is stored), so it is most likely the newest one out.
 */
let pendingTexts = [];

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
  pendingTexts.push(text);
  stopTyping();
  setComposerText("");
  hideNotice();
}

/**
 * A message we sent was accepted: our own `chat_message` with `text`, or a
 * private message delivered with `privateText`. Without either, every
 * answer will never come (the socket closed).
 */
export function forgetSentText({ text, privateText } = {}) {
  let at = -1;
  if (text !== undefined) at = pendingTexts.indexOf(text);
  else if (privateText !== undefined) {
    at = pendingTexts.findIndex((t) => /^\/pm\s/.test(t) && t.endsWith(privateText));
  } else {
    pendingTexts = [];
    return;
  }
  if (at >= 0) pendingTexts.splice(at, 1);
}

/**
 * An error frame with `code`: if it refused a message we sent, give its
 * text back, in front of anything typed since. True if a text came back.
 */
export function giveBackRefused(code) {
  if (pendingTexts.length === 0 || !RESTORE_ON_ERROR.has(code)) return false;
  const refused = pendingTexts.pop();
  const typed = input.value.trim() === "" ? "" : input.value;
  setComposerText(typed ? `${refused}\n${typed}` : refused);
  return true;
}

/** Sending needs a connection; typing stays possible while disconnected. */
export function setConnected(isOnline) {
  sendButton.disabled = !isOnline;
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
  }
}

export function onInput() {
  autosize();
  updateCounter();
  noteTyping(input.value);
}

// Phones have no Shift+Enter: keep only the useful part of the placeholder
// there, so it fits on one line.
const fullPlaceholder = input?.getAttribute("placeholder") || "";

export function applyPlaceholder() {
  input.setAttribute("placeholder", narrowScreen.matches ? `Message #${ROOM}` : fullPlaceholder);
}
