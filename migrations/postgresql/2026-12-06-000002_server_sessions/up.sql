-- Sessions live on the server: the cookie carries only a random secret,
-- and a row here, found by the secret's SHA-256 (never the secret itself),
-- says whose it is. The PostgreSQL twin of
-- migrations/sqlite/2026-12-06-000002_server_sessions; the id is 64-bit
-- (BIGSERIAL) as SQLite's INTEGER is, since every login takes a new one.
CREATE TABLE sessions (
    id BIGSERIAL PRIMARY KEY,
    key_hash TEXT COLLATE "C" NOT NULL UNIQUE,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL
);

-- "End every session of this user" (logout-all, a password change).
CREATE INDEX sessions_user_id ON sessions (user_id);
-- Purging the idle ones.
CREATE INDEX sessions_last_seen_at ON sessions (last_seen_at);
