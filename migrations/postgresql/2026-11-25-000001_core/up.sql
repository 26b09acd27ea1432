-- Accounts, rooms and the message log: everything the core chat needs.
-- The PostgreSQL twin of migrations/sqlite/2026-11-25-000001_core: the same
-- tables, columns, indexes and constraints, so one src/db/schema.rs serves
-- both. SERIAL is an INTEGER fed by a sequence, which (like SQLite's
-- AUTOINCREMENT) never hands out an id twice. Timestamps are written by the
-- application in UTC, hence TIMESTAMP without a time zone.
--
-- Names compare and sort byte by byte (COLLATE "C"), as with SQLite's
-- default BINARY collation, so `room list` orders rooms alike on both.
CREATE TABLE users (
    id SERIAL PRIMARY KEY,
    username TEXT COLLATE "C" NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    is_staff BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE rooms (
    id SERIAL PRIMARY KEY,
    name TEXT COLLATE "C" NOT NULL UNIQUE,
    admin_only BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE messages (
    id SERIAL PRIMARY KEY,
    room_id INTEGER NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    content TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

-- "The latest N messages in a room" and "N messages before id X" walk this
-- index backwards instead of scanning the table.
CREATE INDEX messages_room_id_id ON messages (room_id, id);
