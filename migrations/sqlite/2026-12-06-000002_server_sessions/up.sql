-- Sessions live on the server: the cookie carries only a random secret,
-- and a row here, found by the secret's SHA-256 (never the secret itself),
-- says whose it is. Deleting the row ends the session wherever the cookie
-- has been copied to. `last_seen_at` is refreshed on use (at most every so
-- often), and a session idle longer than CONFAB_SESSION_IDLE_SECS is over.
CREATE TABLE sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL
);

-- "End every session of this user" (logout-all, a password change).
CREATE INDEX sessions_user_id ON sessions (user_id);
-- Purging the idle ones.
CREATE INDEX sessions_last_seen_at ON sessions (last_seen_at);
