DROP INDEX messages_room_id_id;
DROP TABLE messages;
DROP TABLE rooms;
DROP TABLE users;
