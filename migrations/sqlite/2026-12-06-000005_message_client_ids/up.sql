-- The client's own name for a post (`client_id` in the protocol), so that
-- a client that sends a post again (after a lost connection or a refusal)
-- never gets it stored twice: unique per author, and kept with the message
-- for good (a deleted message keeps it too, so a late repeat is not stored
-- as new). Posts without one (the tutorial's client) store NULL, which the
-- index leaves out.
ALTER TABLE messages ADD COLUMN client_id TEXT;

CREATE UNIQUE INDEX messages_user_id_client_id ON messages (user_id, client_id)
    WHERE client_id IS NOT NULL;
