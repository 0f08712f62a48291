-- Views per token and item, kept by the access log's flush in the same
-- transaction as the entries, so that no owner page counts log rows. No
-- foreign keys, like the access log (an insert would wait on a locked token
-- row); triggers forget a deleted token's or item's counts.
CREATE TABLE token_item_views (
  token_id BIGINT NOT NULL,
  item_id BIGINT NOT NULL,
  views BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (token_id, item_id)
);
--bun:split
CREATE INDEX token_item_views_item_idx ON token_item_views (item_id);
--bun:split
INSERT INTO token_item_views (token_id, item_id, views)
SELECT token_id, item_id, sum(count) FROM access_log WHERE event = 'view' AND item_id IS NOT NULL GROUP BY token_id, item_id;
--bun:split
CREATE FUNCTION token_item_views_forget_token() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM token_item_views WHERE token_id = OLD.id;
  RETURN OLD;
END
$$;
--bun:split
CREATE TRIGGER guest_tokens_forget_views AFTER DELETE ON guest_tokens
  FOR EACH ROW EXECUTE FUNCTION token_item_views_forget_token();
--bun:split
CREATE FUNCTION token_item_views_forget_item() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM token_item_views WHERE item_id = OLD.id;
  RETURN OLD;
END
$$;
--bun:split
CREATE TRIGGER items_forget_views AFTER DELETE ON items
  FOR EACH ROW EXECUTE FUNCTION token_item_views_forget_item();
