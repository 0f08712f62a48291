-- Access windows: a link that opens only from valid_from on, and one whose
-- clock starts at its first opening (expires_after_first_use seconds, capping
-- expires_at when first_used_at is set). first_used_at of tokens opened before
-- is their first logged opening, else their last use.
ALTER TABLE guest_tokens ADD COLUMN valid_from TIMESTAMP;
--bun:split
ALTER TABLE guest_tokens ADD COLUMN expires_after_first_use BIGINT
  CHECK (expires_after_first_use IS NULL OR expires_after_first_use > 0);
--bun:split
ALTER TABLE guest_tokens ADD COLUMN first_used_at TIMESTAMP;
--bun:split
UPDATE guest_tokens SET first_used_at = COALESCE(
  (SELECT min(l.at) FROM access_log AS l WHERE l.token_id = guest_tokens.id AND l.event = 'open'), last_used_at)
WHERE uses > 0;
--bun:split
-- The audience of an item: when each token first and last reached it
-- (openings, views, downloads), kept by the access log's flush beside the
-- views, and the distinct client marks it came from (a mark is a keyed hash
-- of the network that rotates daily).
ALTER TABLE token_item_views ADD COLUMN first_at TIMESTAMP;
--bun:split
ALTER TABLE token_item_views ADD COLUMN last_at TIMESTAMP;
--bun:split
INSERT INTO token_item_views (token_id, item_id, views)
SELECT DISTINCT token_id, item_id, 0 FROM access_log
WHERE event IN ('open', 'view', 'download') AND item_id IS NOT NULL
ON CONFLICT (token_id, item_id) DO NOTHING;
--bun:split
UPDATE token_item_views SET
  first_at = (SELECT min(l.at) FROM access_log AS l WHERE l.token_id = token_item_views.token_id
    AND l.item_id = token_item_views.item_id AND l.event IN ('open', 'view', 'download')),
  last_at = (SELECT max(l.at) FROM access_log AS l WHERE l.token_id = token_item_views.token_id
    AND l.item_id = token_item_views.item_id AND l.event IN ('open', 'view', 'download'));
--bun:split
CREATE TABLE token_item_networks (
  item_id BIGINT NOT NULL,
  token_id BIGINT NOT NULL,
  client_mark TEXT NOT NULL,
  PRIMARY KEY (item_id, token_id, client_mark)
);
--bun:split
CREATE INDEX token_item_networks_token_idx ON token_item_networks (token_id);
--bun:split
INSERT INTO token_item_networks (item_id, token_id, client_mark)
SELECT DISTINCT item_id, token_id, client_mark FROM access_log
WHERE event IN ('open', 'view', 'download') AND item_id IS NOT NULL AND client_mark <> '';
--bun:split
CREATE TRIGGER guest_tokens_forget_networks AFTER DELETE ON guest_tokens
BEGIN
  DELETE FROM token_item_networks WHERE token_id = OLD.id;
END;
--bun:split
CREATE TRIGGER items_forget_networks AFTER DELETE ON items
BEGIN
  DELETE FROM token_item_networks WHERE item_id = OLD.id;
END;
--bun:split
-- preview: a link fetched by a link previewer or a scanner, which spends
-- nothing. SQLite changes a CHECK by rebuilding the table.
DROP TRIGGER guest_tokens_forget_access;
--bun:split
DROP TRIGGER items_forget_access;
--bun:split
CREATE TABLE access_log_new (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at TIMESTAMP NOT NULL,
  token_id BIGINT NOT NULL,
  item_id BIGINT,
  event TEXT NOT NULL CHECK (event IN ('open', 'view', 'download', 'denied_password', 'failed', 'preview')),
  client_mark TEXT NOT NULL DEFAULT '',
  reason TEXT NOT NULL DEFAULT '',
  count INTEGER NOT NULL DEFAULT 1 CHECK (count >= 1)
);
--bun:split
INSERT INTO access_log_new (id, at, token_id, item_id, event, client_mark, reason, count)
  SELECT id, at, token_id, item_id, event, client_mark, reason, count FROM access_log;
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
