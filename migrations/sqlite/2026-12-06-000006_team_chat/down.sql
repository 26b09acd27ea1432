DROP TABLE mentions;
DROP TABLE memberships;
ALTER TABLE messages DROP COLUMN reply_to;
ALTER TABLE rooms DROP COLUMN direct_b;
ALTER TABLE rooms DROP COLUMN direct_a;
