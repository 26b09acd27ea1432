-- Back to 32-bit ids. This fails, changing nothing, once an id (or a
-- sequence) has passed 2^31 - 1: such a log cannot be narrowed.
ALTER SEQUENCE reactions_id_seq AS INTEGER;
ALTER TABLE reactions ALTER COLUMN id TYPE INTEGER;
ALTER TABLE reactions ALTER COLUMN message_id TYPE INTEGER;
ALTER SEQUENCE messages_id_seq AS INTEGER;
ALTER TABLE messages ALTER COLUMN id TYPE INTEGER;
