-- Team chat (issue 13): who is in which room and how far they have read,
-- who each message mentions, which message a post answers, and which rooms
-- are direct conversations between two users.

-- A direct conversation is a room whose two participants are named here
-- (the lower user id first; both the same for notes to self). Ordinary
-- rooms have neither. Its name is `@dm-<a>-<b>`, which no room URL can
-- spell (room names take no `@`), so the two never collide.
ALTER TABLE rooms ADD COLUMN direct_a INTEGER;
ALTER TABLE rooms ADD COLUMN direct_b INTEGER;

-- The message a post replies to, if any. No REFERENCES: a message is
-- never removed (deleting empties it), and SQLite could not drop the
-- column again in down.sql.
ALTER TABLE messages ADD COLUMN reply_to BIGINT;

-- "My rooms": a user joins a room by posting in it or with the Join
-- button, and leaves with Leave. `last_read_id` is the newest message the
-- user has read there (0: none); everything after it is unread.
CREATE TABLE memberships (
    user_id INTEGER NOT NULL REFERENCES users (id),
    room_id INTEGER NOT NULL REFERENCES rooms (id),
    last_read_id BIGINT NOT NULL DEFAULT 0,
    joined_at TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, room_id)
);
-- A room's members, for mentions and live unread counts.
CREATE INDEX memberships_room_id ON memberships (room_id);

-- Who a message mentions (`@name`, for users who may read the room).
-- An edit rewrites the message's rows.
CREATE TABLE mentions (
    message_id BIGINT NOT NULL REFERENCES messages (id),
    user_id INTEGER NOT NULL REFERENCES users (id),
    PRIMARY KEY (message_id, user_id)
);
-- "My recent mentions", newest first.
CREATE INDEX mentions_user_id_message_id ON mentions (user_id, message_id);
