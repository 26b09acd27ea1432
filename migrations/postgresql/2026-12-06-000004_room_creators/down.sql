DROP INDEX rooms_created_by_created_at;
ALTER TABLE rooms DROP COLUMN created_by;
