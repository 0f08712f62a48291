DROP TABLE token_networks;
--bun:split
DROP TABLE notifications;
--bun:split
ALTER TABLE members DROP COLUMN notify_email;
--bun:split
ALTER TABLE members DROP COLUMN email;
