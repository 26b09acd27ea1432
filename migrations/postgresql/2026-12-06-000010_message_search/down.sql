DROP INDEX messages_content_search;
