DROP INDEX messages_search_doc;
ALTER TABLE messages DROP COLUMN search_doc;
