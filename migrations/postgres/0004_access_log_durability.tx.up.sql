-- The access log no longer references tokens and items by foreign key: an
-- insert would take a share lock on the token row (which a locked token makes
-- every flush wait for) and one deleted item would fail a whole batch. The
-- flush inserts only rows whose token and item exist, and these triggers
-- delete a token's or an item's entries with it, as the cascade did.
ALTER TABLE access_log DROP CONSTRAINT access_log_token_id_fkey;
--bun:split
ALTER TABLE access_log DROP CONSTRAINT access_log_item_id_fkey;
--bun:split
-- count: identical events merged into one entry when the queue overflowed.
ALTER TABLE access_log ADD COLUMN count INTEGER NOT NULL DEFAULT 1 CHECK (count >= 1);
--bun:split
CREATE FUNCTION access_log_forget_token() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM access_log WHERE token_id = OLD.id;
  RETURN OLD;
END
$$;
--bun:split
CREATE TRIGGER guest_tokens_forget_access AFTER DELETE ON guest_tokens
  FOR EACH ROW EXECUTE FUNCTION access_log_forget_token();
--bun:split
CREATE FUNCTION access_log_forget_item() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM access_log WHERE item_id = OLD.id;
  RETURN OLD;
END
$$;
--bun:split
CREATE TRIGGER items_forget_access AFTER DELETE ON items
  FOR EACH ROW EXECUTE FUNCTION access_log_forget_item();
