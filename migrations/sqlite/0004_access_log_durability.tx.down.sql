DROP TRIGGER items_forget_access;
--bun:split
DROP TRIGGER guest_tokens_forget_access;
--bun:split
CREATE TABLE access_log_old (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at TIMESTAMP NOT NULL,
  token_id BIGINT NOT NULL REFERENCES guest_tokens (id) ON DELETE CASCADE,
  item_id BIGINT REFERENCES items (id) ON DELETE CASCADE,
  event TEXT NOT NULL CHECK (event IN ('open', 'view', 'download', 'denied_password', 'failed')),
  client_mark TEXT NOT NULL DEFAULT '',
  reason TEXT NOT NULL DEFAULT ''
);
--bun:split
INSERT INTO access_log_old (id, at, token_id, item_id, event, client_mark, reason)
  SELECT l.id, l.at, l.token_id, l.item_id, l.event, l.client_mark, l.reason FROM access_log AS l
  WHERE EXISTS (SELECT 1 FROM guest_tokens AS t WHERE t.id = l.token_id)
    AND (l.item_id IS NULL OR EXISTS (SELECT 1 FROM items AS i WHERE i.id = l.item_id));
--bun:split
-- Merged entries become single entries again.
WITH RECURSIVE n(i) AS (SELECT 2 UNION ALL SELECT i + 1 FROM n WHERE i < (SELECT max(count) FROM access_log))
INSERT INTO access_log_old (at, token_id, item_id, event, client_mark, reason)
  SELECT l.at, l.token_id, l.item_id, l.event, l.client_mark, l.reason FROM access_log AS l JOIN n ON n.i <= l.count
  WHERE EXISTS (SELECT 1 FROM guest_tokens AS t WHERE t.id = l.token_id)
    AND (l.item_id IS NULL OR EXISTS (SELECT 1 FROM items AS i WHERE i.id = l.item_id));
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
