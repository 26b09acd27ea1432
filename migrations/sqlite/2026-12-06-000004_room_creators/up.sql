-- Who opened each room, so that the rooms a user creates by visiting them
-- can be counted per hour (CONFAB_ROOMS_PER_HOUR) on every instance that
-- shares the database. Rooms from before have no creator and count for
-- nobody; so do rooms made with `confab room create`.
--
-- No REFERENCES users (id): confab never deletes accounts, and SQLite
-- cannot drop a column that takes part in a foreign key (down.sql).
ALTER TABLE rooms ADD COLUMN created_by INTEGER;

-- "Rooms this user created in the last hour" reads only their rows.
CREATE INDEX rooms_created_by_created_at ON rooms (created_by, created_at);
