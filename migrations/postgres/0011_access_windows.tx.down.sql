DELETE FROM access_log WHERE event = 'preview';
--bun:split
ALTER TABLE access_log DROP CONSTRAINT access_log_event_check;
--bun:split
ALTER TABLE access_log ADD CONSTRAINT access_log_event_check
  CHECK (event IN ('open', 'view', 'download', 'denied_password', 'failed'));
--bun:split
DROP TRIGGER items_forget_networks ON items;
--bun:split
DROP FUNCTION token_item_networks_forget_item();
--bun:split
DROP TRIGGER guest_tokens_forget_networks ON guest_tokens;
--bun:split
DROP FUNCTION token_item_networks_forget_token();
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
