-- Full-text search over messages (issue 13, /search/): an FTS5 index of
-- `messages.content`, kept by triggers so it follows every insert, edit
-- and deletion (deleting a message empties its content, which removes its
-- words from the index) without the application writing to it.
--
-- External content (`content='messages'`): the index stores only the
-- words, not a second copy of the text; snippet() reads the text back
-- from `messages` by rowid. The tokenizer folds case and diacritics.
--
-- diesel's print-schema would list the table and its shadow tables
-- (messages_fts_data, _idx, _docsize, _config); diesel.toml leaves them out
-- of src/db/schema.rs: only src/db/queries/search.rs names them.
CREATE VIRTUAL TABLE messages_fts USING fts5(
    content,
    content = 'messages',
    content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2'
);

-- What was stored before this migration.
INSERT INTO messages_fts (rowid, content)
    SELECT id, content FROM messages WHERE deleted_at IS NULL;

CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts (rowid, content) VALUES (new.id, new.content);
END;

-- FTS5's 'delete' command needs the old text to find the old words.
CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, content)
        VALUES ('delete', old.id, old.content);
    INSERT INTO messages_fts (rowid, content) VALUES (new.id, new.content);
END;

CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, content)
        VALUES ('delete', old.id, old.content);
END;
