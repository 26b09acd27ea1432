-- Moderation and the staff console (issue 14): who may moderate a room,
-- who is muted or banned in it and until when, what users reported, what
-- staff did (the audit log), and the state of rooms and accounts that
-- moderation changes.
--
-- Everything here is read where it is enforced (the writer's checks, the
-- handshake, the pages, the session sweep), so a change takes effect
-- whoever made it: this server, another instance, or the CLI.

-- A deactivated account cannot log in, and its sessions are ended; the
-- row (and its messages) stay. NULL: active.
ALTER TABLE users ADD COLUMN deactivated_at TIMESTAMP;
-- Set when staff set a new password: the user must choose their own at
-- the next login before anything else.
ALTER TABLE users ADD COLUMN must_change_password BOOLEAN NOT NULL DEFAULT FALSE;

-- Read-only: only staff (and the room's moderators) may post, edit or react.
ALTER TABLE rooms ADD COLUMN locked BOOLEAN NOT NULL DEFAULT FALSE;
-- Private: members (memberships rows) are invited; everyone else gets 404.
ALTER TABLE rooms ADD COLUMN invite_only BOOLEAN NOT NULL DEFAULT FALSE;
-- At most one post per this many seconds per user (0: off; moderators
-- are exempt).
ALTER TABLE rooms ADD COLUMN slow_mode_secs INTEGER NOT NULL DEFAULT 0;
-- Archived: hidden from the room selector, read-only, history kept.
ALTER TABLE rooms ADD COLUMN archived_at TIMESTAMP;

-- Moderators appointed per room by its owner (rooms.created_by) or staff.
CREATE TABLE room_moderators (
    room_id INTEGER NOT NULL REFERENCES rooms (id),
    user_id INTEGER NOT NULL REFERENCES users (id),
    appointed_at TIMESTAMP NOT NULL,
    PRIMARY KEY (room_id, user_id)
);

-- Mutes and bans, each with the reason the user is shown. Active while
-- lifted_at is NULL and expires_at is NULL (until lifted) or in the
-- future; rows are kept after that, for the record.
CREATE TABLE sanctions (
    id INTEGER PRIMARY KEY NOT NULL,
    room_id INTEGER NOT NULL REFERENCES rooms (id),
    user_id INTEGER NOT NULL REFERENCES users (id),
    kind TEXT NOT NULL CHECK (kind IN ('mute', 'ban')),
    reason TEXT NOT NULL DEFAULT '',
    created_by INTEGER,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP,
    lifted_at TIMESTAMP
);
-- "Is this user muted or banned here": the check on every post.
CREATE INDEX sanctions_room_id_user_id ON sanctions (room_id, user_id);

-- A user's report of a message. One per reporter and message; resolved
-- by staff or the room's moderators (resolution: what they did).
CREATE TABLE reports (
    id INTEGER PRIMARY KEY NOT NULL,
    message_id BIGINT NOT NULL REFERENCES messages (id),
    room_id INTEGER NOT NULL REFERENCES rooms (id),
    reporter_id INTEGER NOT NULL REFERENCES users (id),
    reason TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    resolved_at TIMESTAMP,
    resolved_by INTEGER,
    resolution TEXT
);
CREATE UNIQUE INDEX reports_message_id_reporter_id ON reports (message_id, reporter_id);
-- The open queue, oldest first.
CREATE INDEX reports_resolved_at_id ON reports (resolved_at, id);

-- Old names of renamed rooms: links to them redirect.
CREATE TABLE room_aliases (
    name TEXT NOT NULL PRIMARY KEY,
    room_id INTEGER NOT NULL REFERENCES rooms (id),
    created_at TIMESTAMP NOT NULL
);

-- Every moderation and console action: who (a username, or "cli"), what,
-- whom (a user, a room, a message), when and why. Names, not ids, so an
-- entry reads the same after a rename; nothing edits or deletes a row.
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY NOT NULL,
    at TIMESTAMP NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    room TEXT,
    reason TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_actor ON audit_log (actor, id);
CREATE INDEX audit_log_action ON audit_log (action, id);
