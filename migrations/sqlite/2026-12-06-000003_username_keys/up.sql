-- Usernames are unique up to case and look-alikes: `username_folded` is the
-- name in lower case (`Alice` and `alice` are one account), and
-- `username_skeleton` its Unicode TS #39 confusable skeleton (`aIice` and
-- `alice` look the same). confab computes both in Rust
-- (src/domain/names.rs); SQL has no skeleton function.
--
-- The columns may be NULL: rows from before this migration get their keys
-- from the server at start-up (src/db/queries/users.rs,
-- `fill_in_name_keys`), and an old account whose keys would collide with
-- an older one keeps NULL keys (both stay usable, by their exact names).
-- A UNIQUE index admits any number of NULLs on both backends.
ALTER TABLE users ADD COLUMN username_folded TEXT;
ALTER TABLE users ADD COLUMN username_skeleton TEXT;
CREATE UNIQUE INDEX users_username_folded ON users (username_folded);
CREATE UNIQUE INDEX users_username_skeleton ON users (username_skeleton);
