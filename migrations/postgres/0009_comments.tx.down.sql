DROP TABLE comments;
--bun:split
ALTER TABLE guest_tokens DROP COLUMN can_comment;
