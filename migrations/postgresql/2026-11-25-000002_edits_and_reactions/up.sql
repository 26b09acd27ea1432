-- Edits, deletes and reactions (the tutorial's to-do list); the PostgreSQL
-- twin of migrations/sqlite/2026-11-25-000002_edits_and_reactions.
-- A deleted message keeps its row (so ids are never reused and later
-- readers can learn it is gone) but loses its content and reactions.
ALTER TABLE messages ADD COLUMN edited_at TIMESTAMP;
ALTER TABLE messages ADD COLUMN deleted_at TIMESTAMP;

-- One row per user, message and emoji; the id orders a message's
-- reactions by first use.
CREATE TABLE reactions (
    id SERIAL PRIMARY KEY,
    message_id INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    emoji TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (message_id, user_id, emoji)
);
