-- Access windows: a link that opens only from valid_from on, and one whose
-- clock starts at its first opening (expires_after_first_use seconds, capping
-- expires_at when first_used_at is set). first_used_at of tokens opened before
-- is their first logged opening, else their last use.
ALTER TABLE guest_tokens ADD COLUMN valid_from TIMESTAMPTZ;
--bun:split
ALTER TABLE guest_tokens ADD COLUMN expires_after_first_use BIGINT
  CHECK (expires_after_first_use IS NULL OR expires_after_first_use > 0);
--bun:split
ALTER TABLE guest_tokens ADD COLUMN first_used_at TIMESTAMPTZ;
--bun:split
UPDATE guest_tokens SET first_used_at = COALESCE(
  (SELECT min(l.at) FROM access_log AS l WHERE l.token_id = guest_tokens.id AND l.event = 'open'), last_used_at)
WHERE uses > 0;
--bun:split
-- The audience of an item: when each token first and last reached it
-- (openings, views, downloads), kept by the access log's flush beside the
-- views, and the distinct client marks it came from (a mark is a keyed hash
-- of the network that rotates daily).
ALTER TABLE token_item_views ADD COLUMN first_at TIMESTAMPTZ;
--bun:split
ALTER TABLE token_item_views ADD COLUMN last_at TIMESTAMPTZ;
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
CREATE FUNCTION token_item_networks_forget_token() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM token_item_networks WHERE token_id = OLD.id;
  RETURN OLD;
END
$$;
--bun:split
CREATE TRIGGER guest_tokens_forget_networks AFTER DELETE ON guest_tokens
  FOR EACH ROW EXECUTE FUNCTION token_item_networks_forget_token();
--bun:split
CREATE FUNCTION token_item_networks_forget_item() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM token_item_networks WHERE item_id = OLD.id;
  RETURN OLD;
END
$$;
--bun:split
CREATE TRIGGER items_forget_networks AFTER DELETE ON items
  FOR EACH ROW EXECUTE FUNCTION token_item_networks_forget_item();
--bun:split
-- preview: a link fetched by a link previewer or a scanner, which spends nothing.
ALTER TABLE access_log DROP CONSTRAINT access_log_event_check;
--bun:split
ALTER TABLE access_log ADD CONSTRAINT access_log_event_check
  CHECK (event IN ('open', 'view', 'download', 'denied_password', 'failed', 'preview'));
