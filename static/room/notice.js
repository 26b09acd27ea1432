// The composer notice (#composer-notice): one line of error or advice, from
// the server or from the page, that fades after a while unless the reader
// is hovering over or focusing it.

import { notice, noticeText } from "./page.js";

/** How long a notice stays before fading (paused on hover/focus). */
const NOTICE_MS = 6000;
const NOTICE_FADE_MS = 400;

let noticeTimer = 0;

/** Shows `text`: an error or advice, or with `ok` the outcome of something done (moderate.js). */
export function showNotice(text, ok = false) {
  noticeText.textContent = text;
  notice.classList.toggle("is-ok", ok);
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

export function hideNotice() {
  clearTimeout(noticeTimer);
  notice.hidden = true;
  notice.classList.remove("is-fading");
}

export function isNoticeShown() {
  return !notice.hidden;
}

/** Someone is reading or focusing the notice: don't fade it away. */
export function holdNotice() {
  clearTimeout(noticeTimer);
}

/** They moved on: the notice fades after the usual time. */
export function releaseNotice() {
  if (!notice.hidden) armNoticeTimer();
}
