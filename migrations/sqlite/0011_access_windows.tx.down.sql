DROP TRIGGER guest_tokens_forget_access;
--bun:split
DROP TRIGGER items_forget_access;
--bun:split
CREATE TABLE access_log_old (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at TIMESTAMP NOT NULL,
  token_id BIGINT NOT NULL,
  item_id BIGINT,
  event TEXT NOT NULL CHECK (event IN ('open', 'view', 'download', 'denied_password', 'failed')),
  client_mark TEXT NOT NULL DEFAULT '',
  reason TEXT NOT NULL DEFAULT '',
  count INTEGER NOT NULL DEFAULT 1 CHECK (count >= 1)
);
--bun:split
INSERT INTO access_log_old (id, at, token_id, item_id, event, client_mark, reason, count)
  SELECT id, at, token_id, item_id, event, client_mark, reason, count FROM access_log WHERE event <> 'preview';
--bun:split
DROP TABLE access_log;
--bun:split
ALTER TABLE access_log_old RENAME TO access_log;
--bun:split
CREATE INDEX access_log_item_idx ON access_log (item_id, at);
--bun:split
CREATE INDEX access_log_token_idx ON access_log (token_id, at);
--bun:split
CREATE INDEX access_log_at_idx ON access_log (at);
--bun:split
CREATE TRIGGER guest_tokens_forget_access AFTER DELETE ON guest_tokens
BEGIN
  DELETE FROM access_log WHERE token_id = OLD.id;
END;
--bun:split
CREATE TRIGGER items_forget_access AFTER DELETE ON items
BEGIN
  DELETE FROM access_log WHERE item_id = OLD.id;
END;
--bun:split
DROP TRIGGER items_forget_networks;
--bun:split
DROP TRIGGER guest_tokens_forget_networks;
--bun:split
DROP TABLE token_item_networks;
--bun:split
DELETE FROM token_item_views WHERE views = 0;
--bun:split
ALTER TABLE token_item_views DROP COLUMN last_at;
--bun:split
ALTER TABLE token_item_views DROP COLUMN first_at;
--bun:split
ALTER TABLE guest_tokens DROP COLUMN first_used_at;
--bun:split
ALTER TABLE guest_tokens DROP COLUMN expires_after_first_use;
--bun:split
ALTER TABLE guest_tokens DROP COLUMN valid_from;
