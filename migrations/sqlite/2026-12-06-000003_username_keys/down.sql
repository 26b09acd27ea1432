DROP INDEX users_username_skeleton;
DROP INDEX users_username_folded;
ALTER TABLE users DROP COLUMN username_skeleton;
ALTER TABLE users DROP COLUMN username_folded;
