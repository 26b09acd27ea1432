// The room page as the server rendered it (templates/chat/room.html): the
// settings it hands over in data-* attributes on #room (CSP: no inline
// script), the fixed elements the other modules work on, and the media
// queries that follow style.css. Nothing here changes after load.
//
// On a page without #room the elements here are missing and main.js does
// nothing.

import { positiveInt } from "./values.js";

/** The room container, or null on any other page. */
export const root = document.getElementById("room");
const data = root ? root.dataset : {};

/** The room's key in URLs: its name, or `@user` for a direct conversation. */
export const ROOM = data.room || "";
/** Its stored name (`@dm-<a>-<b>` for a conversation): the key the sidebar and the `unread` frames file it under. */
export const ROOM_KEY = data.key || ROOM;
/** How the page names it: `#room` or `@user`. */
export const LABEL = data.label || `#${ROOM}`;
/** ROOM as a URL path segment (a conversation's `@` is left as it is). */
export const ROOM_PATH = ROOM.startsWith("@")
  ? `@${encodeURIComponent(ROOM.slice(1))}`
  : encodeURIComponent(ROOM);
export const ME = data.username || "";
/** Staff may delete anyone's message (the server checks it too). */
export const IS_STAFF = data.staff === "true";
export const MAX_CHARS = positiveInt(data.maxChars, 4000);
/** My role in the room: `member`, `moderator`, `owner` or `staff` (the server checks every action too). */
export const ROLE = data.role || "member";
/** Moderators, the owner and staff get the moderation items of the menus (moderate.js). */
export const MODERATES = ["moderator", "owner", "staff"].includes(ROLE);
/** The session's CSRF token, for the page's fetch requests (moderate.js). */
export const CSRF = data.csrf || "";

/** The phone layout of style.css (section 15). */
export const narrowScreen = window.matchMedia("(max-width: 699px)");
/** A finger rather than a mouse. */
export const coarsePointer = window.matchMedia("(pointer: coarse)");

const $ = (id) => document.getElementById(id);
export const log = $("chat-log");
export const historyStatus = $("history-status");
export const newMessagesButton = $("new-messages");
export const jumpLatestButton = $("jump-latest");
export const typingIndicator = $("typing-indicator");
export const typingText = typingIndicator?.querySelector(".typing-text");
export const userList = $("user-list");
export const onlineCount = $("online-count");
export const onlinePanel = userList?.closest(".online-panel");
export const connStatus = $("conn-status");
export const connText = connStatus?.querySelector(".conn-text");
export const connRetry = $("conn-retry");
export const connAnnouncer = $("conn-announcer");
export const endedBanner = $("room-ended");
export const form = $("composer");
export const input = $("chat-message-input");
export const sendButton = $("chat-message-submit");
export const composerBanner = $("composer-banner");
export const composerBannerText = composerBanner?.querySelector(".composer-banner-text");
export const notice = $("composer-notice");
export const noticeText = notice?.querySelector(".notice-text");
export const noticeClose = notice?.querySelector(".notice-close");
export const counter = $("char-counter");
export const replyBanner = $("reply-banner");
export const replyBannerUser = replyBanner?.querySelector(".reply-banner-user");
export const replyBannerText = replyBanner?.querySelector(".reply-banner-text");
export const replyBannerClose = replyBanner?.querySelector(".reply-banner-close");
/** The "More actions" menu of messages and names (moderate.js); null in a direct conversation. */
export const modMenu = $("mod-menu");
