-- Full-text search over messages (issue 13, /search/), the PostgreSQL twin
-- of migrations/sqlite/2026-12-06-000010_message_search: the words of
-- `messages.content` as a stored tsvector, and a GIN index over them.
--
-- A generated column follows every insert, edit and deletion (a deleted
-- message's content is empty) by itself. Stored rather than an expression
-- index over to_tsvector(content): a query that walks messages newest
-- first (a common word) then tests each row without parsing its text
-- again, which made it ~100 times slower at 1,000,000 messages
-- (BENCHMARKS.md, search). The column is PostgreSQL's alone and not in
-- src/db/schema.rs (generated from SQLite, whose FTS5 table plays its
-- part): only src/db/queries/search.rs names it, and diesel never writes
-- it. The `simple` configuration folds case and keeps every word (no
-- stemming, no stop words), as the SQLite index does.
ALTER TABLE messages ADD COLUMN search_doc tsvector
    GENERATED ALWAYS AS (to_tsvector('simple', content)) STORED;
CREATE INDEX messages_search_doc ON messages USING GIN (search_doc);
