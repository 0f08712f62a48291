-- The access log no longer references tokens and items by foreign key, so
-- that one deleted item cannot fail a whole batch; the flush inserts only
-- rows whose token and item exist, and these triggers delete a token's or an
-- item's entries with it, as the cascade did. count: identical events merged
-- into one entry when the queue overflowed.
CREATE TABLE access_log_new (
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
INSERT INTO access_log_new (id, at, token_id, item_id, event, client_mark, reason)
  SELECT id, at, token_id, item_id, event, client_mark, reason FROM access_log;
--bun:split
DROP TABLE access_log;
--bun:split
ALTER TABLE access_log_new RENAME TO access_log;
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
