DROP INDEX messages_user_id_client_id;
ALTER TABLE messages DROP COLUMN client_id;
