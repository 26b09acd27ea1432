//! Frames to the browser.

use crate::domain::{ClientId, MessageId, Username};
use bytestring::ByteString;
use chrono::{DateTime, Utc};
use serde::Serialize;
use unicode_segmentation::UnicodeSegmentation;

/// Most characters (grapheme clusters) of the original a reply quotes: a
/// line of text, enough to recognise it. Not a limit on what anyone may
/// send, only on what a reply repeats of another message.
pub const REPLY_EXCERPT_CHARS: usize = 100;

/// A chat message as clients see it, live or from history.
#[derive(Debug, Clone, Serialize)]
pub struct MessageView {
    /// Database id; increases within a room.
    pub id: MessageId,
    /// Author.
    pub user: Username,
    /// Text as posted.
    pub message: String,
    /// When it was posted, RFC 3339 in UTC.
    #[serde(serialize_with = "rfc3339")]
    pub created_at: DateTime<Utc>,
    /// When it was last edited, if ever.
    #[serde(
        serialize_with = "rfc3339_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub edited_at: Option<DateTime<Utc>>,
    /// Its reactions, if any.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reactions: Vec<ReactionView>,
    /// The message it replies to, if it is a reply.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<ReplyView>,
    /// The users it mentions (`@name` of an account that may read the
    /// room, not the author), as their accounts spell them, in the order
    /// the text names them; left out when none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mentions: Vec<Username>,
    /// Sent as part of the history on join rather than live.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub history: bool,
    /// The `client_id` its author gave the post: only in the echo to the
    /// socket that sent it (and in the answer to a repeat), never to
    /// anyone else.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<ClientId>,
}

/// What a reply shows of the message it answers:
/// `{"id":41,"user":"bob","excerpt":"the start of it"}`, or
/// `{"id":41,"deleted":true}` once that message is deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplyView {
    /// The original.
    pub id: MessageId,
    /// Its author, while it exists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<Username>,
    /// The start of its text (at most [`REPLY_EXCERPT_CHARS`] characters,
    /// on one line; `…` when cut), while it exists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub excerpt: Option<String>,
    /// It was deleted.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
}

impl ReplyView {
    /// A reply to `id`, by `user`, which says `text` now.
    pub fn live(id: MessageId, user: Username, text: &str) -> Self {
        ReplyView {
            id,
            user: Some(user),
            excerpt: Some(excerpt(text)),
            deleted: false,
        }
    }

    /// A reply to `id`, which has been deleted.
    pub fn deleted(id: MessageId) -> Self {
        ReplyView {
            id,
            user: None,
            excerpt: None,
            deleted: true,
        }
    }
}

/// The start of `text` as a quote shows it: white space (line breaks
/// included) folded to single spaces, at most [`REPLY_EXCERPT_CHARS`]
/// characters, never cutting a character (or an emoji) in half, and `…`
/// when anything was cut.
pub fn excerpt(text: &str) -> String {
    excerpt_of(text, REPLY_EXCERPT_CHARS)
}

/// [`excerpt`] at most `max` characters long (an `activity` frame's is
/// longer than a quote's).
pub fn excerpt_of(text: &str, max: usize) -> String {
    let folded = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut graphemes = folded.graphemes(true);
    let mut out: String = graphemes.by_ref().take(max).collect();
    if graphemes.next().is_some() {
        out.push('…');
    }
    out
}

/// One emoji's reactions on a message, as one reader sees them: a summary
/// of bounded size however many reacted (the full list is a `reactors`
/// request away).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReactionView {
    /// The emoji.
    pub emoji: String,
    /// How many reacted with it.
    pub count: usize,
    /// Whether the reader is one of them.
    pub me: bool,
    /// The first few who did (at most three), in the order they reacted.
    pub users: Vec<Username>,
}

/// What kind of place a room row is: a room, or a direct conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PlaceKind {
    /// A room anyone admitted may enter.
    Room,
    /// A direct conversation between two users (or notes to self).
    Direct,
}

/// One of the user's rooms or direct conversations, and how much of it
/// they have not read. Only for sockets opened with `?v=2`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnreadView {
    /// The room's stored name (for a direct conversation `@dm-<a>-<b>`):
    /// the key a client files it under.
    pub room: String,
    /// What to show: the room's name, or `@other` for a conversation.
    pub label: String,
    /// Room or conversation.
    pub kind: PlaceKind,
    /// Its page.
    pub url: String,
    /// Messages after the read marker, not deleted, not by the user.
    pub unread: u64,
    /// How many of those mention the user.
    pub mentions: u64,
    /// The newest message the user has read there (0: none).
    pub last_read_id: MessageId,
}

/// A new message in one of the user's rooms or conversations, anywhere.
/// Only for sockets opened with `?v=2`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActivityView {
    /// The room's stored name, as in [`UnreadView::room`].
    pub room: String,
    /// What to show, as in [`UnreadView::label`].
    pub label: String,
    /// Room or conversation.
    pub kind: PlaceKind,
    /// The room's page.
    pub url: String,
    /// The new message.
    pub message_id: MessageId,
    /// Its author.
    pub user: Username,
    /// Its first characters.
    pub excerpt: String,
    /// Whether it mentions the receiving user.
    pub mention: bool,
}

/// What decides who may write in a room, as its modern sockets are told
/// (`room_state`): in the join burst and whenever it changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RoomStateView {
    /// Read-only for everyone but staff and the room's moderators.
    pub locked: bool,
    /// Archived: read-only as locked, and out of the room selector.
    pub archived: bool,
    /// At most one post per this many seconds per user (0: off;
    /// moderators are exempt).
    pub slow_mode_secs: u32,
    /// Private: members only.
    pub invite_only: bool,
}

/// A mute as the muted user is told it: why, and until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MuteView {
    /// Why, as the moderator gave it (may be empty).
    pub reason: String,
    /// When it ends by itself; `null`: when a moderator lifts it.
    #[serde(serialize_with = "rfc3339_or_null")]
    pub until: Option<DateTime<Utc>>,
}

/// One user's standing in a room (`standing`), sent to their modern
/// sockets in the join burst and whenever it changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StandingView {
    /// `member`, `moderator`, `owner` or `staff`.
    pub role: &'static str,
    /// The mute in force, or `null`.
    pub muted: Option<MuteView>,
    /// How long until slow mode lets them post again (0: now).
    pub slow_mode_wait_ms: u64,
}

/// Stable, machine-readable reasons in `error` frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The frame was not JSON.
    InvalidJson,
    /// JSON, but not a known frame shape.
    InvalidFrame,
    /// A `type` the server does not know.
    UnknownType,
    /// Binary frames are not part of the protocol.
    BinaryNotSupported,
    /// The message was blank.
    EmptyMessage,
    /// The message was over the configured length.
    MessageTooLong,
    /// `/pm` without a user or text.
    InvalidCommand,
    /// No account has the `/pm` target's name.
    NoSuchUser,
    /// No such message in this room (or it was deleted).
    NotFound,
    /// The user may not do that to this message.
    Forbidden,
    /// A reaction that is not a single emoji.
    InvalidEmoji,
    /// The message already has the most distinct emoji allowed
    /// (`CONFAB_MAX_REACTIONS`); existing ones can still be toggled.
    TooManyReactions,
    /// The client sent faster than it may (too many requests waiting, a
    /// second history request, too many private messages at once); typing
    /// over its budget is dropped without an error.
    RateLimited,
    /// The connection is not in its room (it is being closed).
    NotReady,
    /// The database cannot be reached or cannot write right now (it is
    /// down, restarting, or its disk is full); nothing was stored. Comes
    /// with `retry_after_ms`: send the same frame again then.
    Unavailable,
    /// Something went wrong on the server; the message was not stored.
    Internal,
    /// The user is muted in this room: they may read, not post, edit or
    /// react. Comes with `reason` and `until` (RFC 3339, or null: until a
    /// moderator lifts it).
    Muted,
    /// The room is locked (read-only): only staff and its moderators may
    /// post, edit or react.
    RoomLocked,
    /// The room is archived: read-only, as locked.
    RoomArchived,
    /// Slow mode: the user posted here less than `slow_mode_secs` ago.
    /// Comes with `retry_after_ms`: when the next post will be taken.
    SlowMode,
}

/// A frame the server sends.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// A message in the room.
    ChatMessage(MessageView),
    /// Everyone online in the room, sent on join.
    UserList {
        /// Usernames, sorted, each once.
        users: Vec<Username>,
    },
    /// A user's first connection to the room opened.
    UserJoin {
        /// Who.
        user: Username,
    },
    /// A user's last connection to the room closed.
    UserLeave {
        /// Who.
        user: Username,
    },
    /// A page of older messages, answering a `history` request.
    History {
        /// Oldest first.
        messages: Vec<MessageView>,
        /// Whether the log goes on past the page: older messages for a
        /// `before`, plain or `around` request, newer ones for `after`.
        has_more: bool,
        /// Only answering `around`: whether there are newer messages
        /// than the page holds.
        #[serde(skip_serializing_if = "Option::is_none")]
        has_newer: Option<bool>,
    },
    /// Ends the catch-up burst of a socket opened with `?after=ID`: every
    /// message after ID has been sent, up to a cap.
    Resumed {
        /// The id the client asked to resume after.
        after: MessageId,
        /// More messages were missed than the burst holds; the client asks
        /// for the rest with `history` requests using `after`.
        has_more: bool,
    },
    /// A message's text was changed by its author.
    MessageEdited {
        /// Which message.
        id: MessageId,
        /// The new text.
        message: String,
        /// When.
        #[serde(serialize_with = "rfc3339")]
        edited_at: DateTime<Utc>,
        /// Who the new text mentions (as in `chat_message`); left out when none.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        mentions: Vec<Username>,
    },
    /// A message was deleted; clients remove it.
    MessageDeleted {
        /// Which message.
        id: MessageId,
    },
    /// Someone else in the room started or stopped typing.
    Typing {
        /// Who.
        user: Username,
        /// Whether they are typing now.
        typing: bool,
    },
    /// One user added or took back one reaction: only what changed, so
    /// the frame stays small however many reactions the message has.
    Reaction {
        /// Which message.
        id: MessageId,
        /// The emoji.
        emoji: String,
        /// Who toggled it.
        user: Username,
        /// Added (`true`) or taken back (`false`).
        added: bool,
        /// How many react with this emoji now (0: its chip goes).
        count: usize,
    },
    /// Everyone who reacted to a message with one emoji, answering a
    /// `reactors` request.
    Reactors {
        /// Which message.
        id: MessageId,
        /// The emoji.
        emoji: String,
        /// Who, in the order they reacted.
        users: Vec<Username>,
    },
    /// A private message to the receiving user.
    PrivateMessage {
        /// The sender.
        user: Username,
        /// The text.
        message: String,
    },
    /// Confirms to the sender that a private message went out.
    PrivateMessageDelivered {
        /// The recipient.
        target: Username,
        /// The text.
        message: String,
        /// The `client_id` the sender gave it, if any.
        #[serde(skip_serializing_if = "Option::is_none")]
        client_id: Option<ClientId>,
    },
    /// Every room and conversation of the user with its unread counts,
    /// sent to a modern socket (`?v=2`) at the end of its join burst and
    /// when the user joins or leaves a room: the whole list, replacing
    /// the one before.
    Unread {
        /// Rooms first, then conversations, each by name.
        rooms: Vec<UnreadView>,
    },
    /// The user's read marker in one room moved (they read, or marked a
    /// message unread, in any tab on any instance): that room's counts
    /// now. Modern sockets only.
    ReadMarker(UnreadView),
    /// A new message in one of the user's rooms. Modern sockets only.
    Activity(ActivityView),
    /// The room's rules (locked, archived, slow mode, private). Modern
    /// sockets only: in the join burst and whenever they change.
    RoomState(RoomStateView),
    /// The receiving user's standing in the room (role, mute, slow-mode
    /// wait). Modern sockets only: in the join burst and whenever it
    /// changes.
    Standing(StandingView),
    /// Something the client sent was refused; the connection carries on.
    Error {
        /// Machine-readable reason.
        code: ErrorCode,
        /// Human-readable explanation.
        message: String,
        /// With `rate_limited` and `unavailable`: how long to wait before
        /// trying again.
        #[serde(skip_serializing_if = "Option::is_none")]
        retry_after_ms: Option<u64>,
        /// When it refuses a post that carried a `client_id`: that id.
        #[serde(skip_serializing_if = "Option::is_none")]
        client_id: Option<ClientId>,
        /// With `muted`: the mute's `reason` and `until`, as fields of the
        /// frame itself.
        #[serde(flatten)]
        mute: Option<MuteView>,
    },
}

fn rfc3339<S: serde::Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

fn rfc3339_option<S: serde::Serializer>(
    t: &Option<DateTime<Utc>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => rfc3339(t, s),
        None => s.serialize_none(),
    }
}

fn rfc3339_or_null<S: serde::Serializer>(
    t: &Option<DateTime<Utc>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    rfc3339_option(t, s)
}

/// Serializes a frame once; the result is cheap to clone for every recipient.
pub fn encode(frame: &ServerFrame) -> ByteString {
    match serde_json::to_string(frame) {
        Ok(text) => ByteString::from(text),
        // Every field is a plain string, number or bool: serde_json cannot
        // fail on these types. Should it ever, log it and send a generic error.
        Err(e) => {
            log::error!("could not encode {frame:?}: {e}");
            ByteString::from_static(
                r#"{"type":"error","code":"internal","message":"server error"}"#,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str) -> Username {
        Username::parse(name).unwrap()
    }

    #[test]
    fn chat_message_has_the_tutorial_fields_plus_id_and_time() {
        let view = MessageView {
            id: MessageId(7),
            user: user("alice"),
            message: "hi".into(),
            created_at: DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
            edited_at: None,
            reactions: Vec::new(),
            reply_to: None,
            mentions: Vec::new(),
            history: false,
            client_id: None,
        };
        assert_eq!(
            &*encode(&ServerFrame::ChatMessage(view.clone())),
            r#"{"type":"chat_message","id":7,"user":"alice","message":"hi","created_at":"2023-11-14T22:13:20.000Z"}"#
        );
        // The sender's echo: the same, with its client_id last.
        let echo = MessageView {
            client_id: Some(ClientId::parse("c-9".into()).unwrap()),
            ..view
        };
        assert_eq!(
            &*encode(&ServerFrame::ChatMessage(echo)),
            r#"{"type":"chat_message","id":7,"user":"alice","message":"hi","created_at":"2023-11-14T22:13:20.000Z","client_id":"c-9"}"#
        );
    }

    #[test]
    fn mentions_are_listed_only_when_there_are_some() {
        let view = MessageView {
            id: MessageId(3),
            user: user("alice"),
            message: "hi @Bob and @carol".into(),
            created_at: DateTime::from_timestamp(0, 0).unwrap(),
            edited_at: None,
            reactions: Vec::new(),
            reply_to: None,
            mentions: vec![user("bob"), user("carol")],
            history: false,
            client_id: None,
        };
        assert!(
            encode(&ServerFrame::ChatMessage(view)).ends_with(r#","mentions":["bob","carol"]}"#)
        );
        let edited = ServerFrame::MessageEdited {
            id: MessageId(3),
            message: "hi @bob".into(),
            edited_at: DateTime::from_timestamp(0, 0).unwrap(),
            mentions: vec![user("bob")],
        };
        assert!(encode(&edited).ends_with(r#","mentions":["bob"]}"#));
    }

    #[test]
    fn history_messages_are_marked() {
        let frame = ServerFrame::ChatMessage(MessageView {
            id: MessageId(1),
            user: user("bob"),
            message: "old".into(),
            created_at: DateTime::from_timestamp(0, 0).unwrap(),
            edited_at: None,
            reactions: Vec::new(),
            reply_to: None,
            mentions: Vec::new(),
            history: true,
            client_id: None,
        });
        assert!(encode(&frame).contains(r#""history":true"#));
    }

    #[test]
    fn edits_and_reactions_show_on_the_message() {
        let frame = ServerFrame::ChatMessage(MessageView {
            id: MessageId(2),
            user: user("bob"),
            message: "new".into(),
            created_at: DateTime::from_timestamp(0, 0).unwrap(),
            edited_at: DateTime::from_timestamp(60, 0),
            reactions: vec![ReactionView {
                emoji: "👍".into(),
                count: 5,
                me: true,
                users: vec![user("alice"), user("bob"), user("carol")],
            }],
            reply_to: None,
            mentions: Vec::new(),
            history: false,
            client_id: None,
        });
        assert_eq!(
            &*encode(&frame),
            r#"{"type":"chat_message","id":2,"user":"bob","message":"new","created_at":"1970-01-01T00:00:00.000Z","edited_at":"1970-01-01T00:01:00.000Z","reactions":[{"emoji":"👍","count":5,"me":true,"users":["alice","bob","carol"]}]}"#
        );
    }

    #[test]
    fn edit_delete_typing_frames() {
        let frame = ServerFrame::MessageEdited {
            id: MessageId(2),
            message: "x".into(),
            edited_at: DateTime::from_timestamp(0, 0).unwrap(),
            mentions: Vec::new(),
        };
        assert_eq!(
            &*encode(&frame),
            r#"{"type":"message_edited","id":2,"message":"x","edited_at":"1970-01-01T00:00:00.000Z"}"#
        );
        let frame = ServerFrame::MessageDeleted { id: MessageId(2) };
        assert_eq!(&*encode(&frame), r#"{"type":"message_deleted","id":2}"#);
        let frame = ServerFrame::Typing {
            user: user("a"),
            typing: true,
        };
        assert_eq!(
            &*encode(&frame),
            r#"{"type":"typing","user":"a","typing":true}"#
        );
        let frame = ServerFrame::History {
            messages: Vec::new(),
            has_more: false,
            has_newer: None,
        };
        assert_eq!(
            &*encode(&frame),
            r#"{"type":"history","messages":[],"has_more":false}"#
        );
    }

    #[test]
    fn a_reply_quotes_its_original_or_says_it_is_gone() {
        let mut view = MessageView {
            id: MessageId(8),
            user: user("alice"),
            message: "yes".into(),
            created_at: DateTime::from_timestamp(0, 0).unwrap(),
            edited_at: None,
            reactions: Vec::new(),
            reply_to: Some(ReplyView::live(
                MessageId(7),
                user("bob"),
                "lunch\nat noon?",
            )),
            mentions: Vec::new(),
            history: false,
            client_id: None,
        };
        assert_eq!(
            &*encode(&ServerFrame::ChatMessage(view.clone())),
            r#"{"type":"chat_message","id":8,"user":"alice","message":"yes","created_at":"1970-01-01T00:00:00.000Z","reply_to":{"id":7,"user":"bob","excerpt":"lunch at noon?"}}"#
        );
        view.reply_to = Some(ReplyView::deleted(MessageId(7)));
        assert!(
            encode(&ServerFrame::ChatMessage(view))
                .contains(r#""reply_to":{"id":7,"deleted":true}"#)
        );
        let frame = ServerFrame::History {
            messages: Vec::new(),
            has_more: true,
            has_newer: Some(false),
        };
        assert_eq!(
            &*encode(&frame),
            r#"{"type":"history","messages":[],"has_more":true,"has_newer":false}"#
        );
    }

    #[test]
    fn an_excerpt_is_one_line_cut_between_characters() {
        assert_eq!(excerpt("  hi\n\nthere  "), "hi there");
        let long = "👍🏽".repeat(REPLY_EXCERPT_CHARS + 1);
        let cut = excerpt(&long);
        assert_eq!(cut, format!("{}…", "👍🏽".repeat(REPLY_EXCERPT_CHARS)));
        let exact = "a".repeat(REPLY_EXCERPT_CHARS);
        assert_eq!(excerpt(&exact), exact);
    }

    #[test]
    fn a_reaction_frame_carries_only_the_change() {
        let frame = ServerFrame::Reaction {
            id: MessageId(9),
            emoji: "👍".into(),
            user: user("bob"),
            added: false,
            count: 0,
        };
        assert_eq!(
            &*encode(&frame),
            r#"{"type":"reaction","id":9,"emoji":"👍","user":"bob","added":false,"count":0}"#
        );
        let frame = ServerFrame::Reactors {
            id: MessageId(9),
            emoji: "👍".into(),
            users: vec![user("a"), user("b")],
        };
        assert_eq!(
            &*encode(&frame),
            r#"{"type":"reactors","id":9,"emoji":"👍","users":["a","b"]}"#
        );
    }

    #[test]
    fn error_codes_are_snake_case() {
        let frame = ServerFrame::Error {
            code: ErrorCode::MessageTooLong,
            message: "too long".into(),
            retry_after_ms: None,
            client_id: None,
            mute: None,
        };
        assert_eq!(
            &*encode(&frame),
            r#"{"type":"error","code":"message_too_long","message":"too long"}"#
        );
        let frame = ServerFrame::Error {
            code: ErrorCode::RateLimited,
            message: "wait".into(),
            retry_after_ms: Some(500),
            client_id: Some(ClientId::parse("c-1".into()).unwrap()),
            mute: None,
        };
        assert_eq!(
            &*encode(&frame),
            r#"{"type":"error","code":"rate_limited","message":"wait","retry_after_ms":500,"client_id":"c-1"}"#
        );
    }

    #[test]
    fn unread_frames() {
        let view = UnreadView {
            room: "lobby".into(),
            label: "lobby".into(),
            kind: PlaceKind::Room,
            url: "/chat/lobby/".into(),
            unread: 3,
            mentions: 1,
            last_read_id: MessageId(9),
        };
        assert_eq!(
            &*encode(&ServerFrame::ReadMarker(view.clone())),
            r#"{"type":"read_marker","room":"lobby","label":"lobby","kind":"room","url":"/chat/lobby/","unread":3,"mentions":1,"last_read_id":9}"#
        );
        assert_eq!(
            &*encode(&ServerFrame::Unread { rooms: vec![view] }),
            r#"{"type":"unread","rooms":[{"room":"lobby","label":"lobby","kind":"room","url":"/chat/lobby/","unread":3,"mentions":1,"last_read_id":9}]}"#
        );
        let activity = ActivityView {
            room: "@dm-1-2".into(),
            label: "@bob".into(),
            kind: PlaceKind::Direct,
            url: "/chat/@bob/".into(),
            message_id: MessageId(10),
            user: user("bob"),
            excerpt: "hi".into(),
            mention: false,
        };
        assert_eq!(
            &*encode(&ServerFrame::Activity(activity)),
            r#"{"type":"activity","room":"@dm-1-2","label":"@bob","kind":"direct","url":"/chat/@bob/","message_id":10,"user":"bob","excerpt":"hi","mention":false}"#
        );
    }

    #[test]
    fn moderation_frames() {
        let state = ServerFrame::RoomState(RoomStateView {
            locked: true,
            archived: false,
            slow_mode_secs: 30,
            invite_only: false,
        });
        assert_eq!(
            &*encode(&state),
            r#"{"type":"room_state","locked":true,"archived":false,"slow_mode_secs":30,"invite_only":false}"#
        );
        let mute = MuteView {
            reason: "spamming".into(),
            until: DateTime::from_timestamp(60, 0),
        };
        let standing = ServerFrame::Standing(StandingView {
            role: "member",
            muted: Some(mute.clone()),
            slow_mode_wait_ms: 0,
        });
        assert_eq!(
            &*encode(&standing),
            r#"{"type":"standing","role":"member","muted":{"reason":"spamming","until":"1970-01-01T00:01:00.000Z"},"slow_mode_wait_ms":0}"#
        );
        let free = ServerFrame::Standing(StandingView {
            role: "moderator",
            muted: None,
            slow_mode_wait_ms: 1500,
        });
        assert_eq!(
            &*encode(&free),
            r#"{"type":"standing","role":"moderator","muted":null,"slow_mode_wait_ms":1500}"#
        );
        // A mute until lifted says so with a null, in the error too.
        let error = ServerFrame::Error {
            code: ErrorCode::Muted,
            message: "muted".into(),
            retry_after_ms: None,
            client_id: None,
            mute: Some(MuteView {
                until: None,
                ..mute
            }),
        };
        assert_eq!(
            &*encode(&error),
            r#"{"type":"error","code":"muted","message":"muted","reason":"spamming","until":null}"#
        );
        let slow = ServerFrame::Error {
            code: ErrorCode::SlowMode,
            message: "wait".into(),
            retry_after_ms: Some(12_000),
            client_id: None,
            mute: None,
        };
        assert!(
            encode(&slow).contains(r#""code":"slow_mode","message":"wait","retry_after_ms":12000"#)
        );
        for (code, word) in [
            (ErrorCode::RoomLocked, "room_locked"),
            (ErrorCode::RoomArchived, "room_archived"),
        ] {
            let frame = ServerFrame::Error {
                code,
                message: String::new(),
                retry_after_ms: None,
                client_id: None,
                mute: None,
            };
            assert!(encode(&frame).contains(&format!(r#""code":"{word}""#)));
        }
    }

    #[test]
    fn presence_frames() {
        let frame = ServerFrame::UserList {
            users: vec![user("a"), user("b")],
        };
        assert_eq!(
            &*encode(&frame),
            r#"{"type":"user_list","users":["a","b"]}"#
        );
        let frame = ServerFrame::UserJoin { user: user("a") };
        assert_eq!(&*encode(&frame), r#"{"type":"user_join","user":"a"}"#);
    }
}
