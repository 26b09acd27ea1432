-- Who opened each room, so that the rooms a user creates by visiting them
-- can be counted per hour (CONFAB_ROOMS_PER_HOUR) on every instance that
-- shares the database. The PostgreSQL twin of
-- migrations/sqlite/2026-12-06-000004_room_creators: rooms from before
-- have no creator and count for nobody; so do rooms made with
-- `confab room create`. No foreign key, as in SQLite (which could not
-- drop the column again with one).
ALTER TABLE rooms ADD COLUMN created_by INTEGER;

-- "Rooms this user created in the last hour" reads only their rows.
CREATE INDEX rooms_created_by_created_at ON rooms (created_by, created_at);
