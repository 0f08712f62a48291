DROP TRIGGER items_forget_access ON items;
--bun:split
DROP FUNCTION access_log_forget_item();
--bun:split
DROP TRIGGER guest_tokens_forget_access ON guest_tokens;
--bun:split
DROP FUNCTION access_log_forget_token();
--bun:split
-- Merged entries become single entries again.
INSERT INTO access_log (at, token_id, item_id, event, client_mark, reason)
  SELECT l.at, l.token_id, l.item_id, l.event, l.client_mark, l.reason
  FROM access_log AS l, generate_series(2, l.count) WHERE l.count > 1;
--bun:split
ALTER TABLE access_log DROP COLUMN count;
--bun:split
DELETE FROM access_log AS l WHERE NOT EXISTS (SELECT 1 FROM guest_tokens AS t WHERE t.id = l.token_id)
  OR (l.item_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM items AS i WHERE i.id = l.item_id));
--bun:split
ALTER TABLE access_log ADD CONSTRAINT access_log_token_id_fkey
  FOREIGN KEY (token_id) REFERENCES guest_tokens (id) ON DELETE CASCADE;
--bun:split
ALTER TABLE access_log ADD CONSTRAINT access_log_item_id_fkey
  FOREIGN KEY (item_id) REFERENCES items (id) ON DELETE CASCADE;
