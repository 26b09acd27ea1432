-- The client's own name for a post (`client_id` in the protocol), unique
-- per author and kept with the message for good, so that a post sent again
-- is never stored twice. The PostgreSQL twin of
-- migrations/sqlite/2026-12-06-000005_message_client_ids.
ALTER TABLE messages ADD COLUMN client_id TEXT;

CREATE UNIQUE INDEX messages_user_id_client_id ON messages (user_id, client_id)
    WHERE client_id IS NOT NULL;
