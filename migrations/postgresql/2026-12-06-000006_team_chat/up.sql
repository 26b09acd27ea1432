-- Team chat (issue 13), the PostgreSQL twin of
-- migrations/sqlite/2026-12-06-000006_team_chat: who is in which room and
-- how far they have read, who each message mentions, which message a post
-- answers, and which rooms are direct conversations between two users.

-- A direct conversation names its two participants (lower id first; the
-- same twice for notes to self); its name `@dm-<a>-<b>` is one no room URL
-- can spell.
ALTER TABLE rooms ADD COLUMN direct_a INTEGER;
ALTER TABLE rooms ADD COLUMN direct_b INTEGER;

-- The message a post replies to, if any (no foreign key, as in SQLite).
ALTER TABLE messages ADD COLUMN reply_to BIGINT;

-- "My rooms" and read markers: everything after `last_read_id` is unread.
CREATE TABLE memberships (
    user_id INTEGER NOT NULL REFERENCES users (id),
    room_id INTEGER NOT NULL REFERENCES rooms (id),
    last_read_id BIGINT NOT NULL DEFAULT 0,
    joined_at TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, room_id)
);
CREATE INDEX memberships_room_id ON memberships (room_id);

-- Who a message mentions; an edit rewrites the message's rows.
CREATE TABLE mentions (
    message_id BIGINT NOT NULL REFERENCES messages (id),
    user_id INTEGER NOT NULL REFERENCES users (id),
    PRIMARY KEY (message_id, user_id)
);
CREATE INDEX mentions_user_id_message_id ON mentions (user_id, message_id);
