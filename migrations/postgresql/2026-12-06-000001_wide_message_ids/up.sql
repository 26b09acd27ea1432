-- Message and reaction ids as 64-bit integers, so the log never runs out
-- of ids at 2^31 (an INTEGER column and its SERIAL sequence stop there,
-- and every insert after it would fail). The PostgreSQL twin of
-- migrations/sqlite/2026-12-06-000001_wide_message_ids, where INTEGER is
-- already 64-bit.
ALTER TABLE messages ALTER COLUMN id TYPE BIGINT;
ALTER SEQUENCE messages_id_seq AS BIGINT;
ALTER TABLE reactions ALTER COLUMN message_id TYPE BIGINT;
ALTER TABLE reactions ALTER COLUMN id TYPE BIGINT;
ALTER SEQUENCE reactions_id_seq AS BIGINT;
