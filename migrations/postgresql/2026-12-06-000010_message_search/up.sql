-- Full-text search over messages (issue 13, /search/), the PostgreSQL twin
-- of migrations/sqlite/2026-12-06-000010_message_search: a GIN index over
-- the words of `messages.content`.
--
-- An expression index rather than a stored tsvector column: it follows
-- every insert, edit and deletion (a deleted message's content is empty)
-- by itself, and `messages` keeps the same columns as in SQLite, so one
-- src/db/schema.rs serves both. src/db/queries/search.rs matches with the
-- very same expression, `to_tsvector('simple', content)`, so the planner
-- uses this index. The `simple` configuration folds case and keeps every
-- word (no stemming, no stop words), as the SQLite index does.
CREATE INDEX messages_content_search ON messages
    USING GIN (to_tsvector('simple', content));
