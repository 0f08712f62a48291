-- Each instance keeps the guest view of an item in memory, tagged with the
-- epoch of the item's owner, and checks the epoch (one row by key) before it
-- answers from memory. Every change that can alter what a guest of the
-- owner's items sees moves the epoch in its own transaction, here, by
-- trigger: an item changed or deleted, an ACL entry, a group's members, a
-- group deleted, a token's settings or state, the owner's display name. A
-- token's uses, last use and first use do not move it: the guest view does
-- not read them, and they change on every opening.
--
-- Bulk changes move the epoch once per statement (transition tables), not
-- once per row: a million rows updating one row in one transaction would
-- each walk the versions the others left.
CREATE TABLE owner_epochs (
  owner_id BIGINT PRIMARY KEY REFERENCES members (id) ON DELETE CASCADE,
  epoch BIGINT NOT NULL
);
--bun:split
INSERT INTO owner_epochs (owner_id, epoch) SELECT id, 1 FROM members;
--bun:split
CREATE FUNCTION owner_epochs_start() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO owner_epochs (owner_id, epoch) VALUES (NEW.id, 1);
  RETURN NULL;
END;
$$;
--bun:split
CREATE TRIGGER members_epoch_start AFTER INSERT ON members
  FOR EACH ROW EXECUTE FUNCTION owner_epochs_start();
--bun:split
CREATE FUNCTION owner_epochs_bump_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE owner_epochs SET epoch = epoch + 1
  WHERE owner_id IN (OLD.owner_id, NEW.owner_id);
  RETURN NULL;
END;
$$;
--bun:split
CREATE FUNCTION owner_epochs_bump_member() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE owner_epochs SET epoch = epoch + 1 WHERE owner_id = NEW.id;
  RETURN NULL;
END;
$$;
--bun:split
CREATE TRIGGER members_epoch_update AFTER UPDATE ON members
  FOR EACH ROW WHEN (OLD.display_name IS DISTINCT FROM NEW.display_name)
  EXECUTE FUNCTION owner_epochs_bump_member();
--bun:split
-- Rows carrying owner_id (items, groups, guest_tokens).
CREATE FUNCTION owner_epochs_bump_owned() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' THEN
    UPDATE owner_epochs SET epoch = epoch + 1
    WHERE owner_id IN (SELECT owner_id FROM old_rows UNION SELECT owner_id FROM new_rows);
  ELSE
    UPDATE owner_epochs SET epoch = epoch + 1 WHERE owner_id IN (SELECT owner_id FROM old_rows);
  END IF;
  RETURN NULL;
END;
$$;
--bun:split
CREATE TRIGGER items_epoch_update AFTER UPDATE ON items
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION owner_epochs_bump_owned();
--bun:split
CREATE TRIGGER items_epoch_delete AFTER DELETE ON items
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION owner_epochs_bump_owned();
--bun:split
CREATE TRIGGER groups_epoch_delete AFTER DELETE ON groups
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION owner_epochs_bump_owned();
--bun:split
CREATE TRIGGER guest_tokens_epoch_delete AFTER DELETE ON guest_tokens
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION owner_epochs_bump_owned();
--bun:split
-- A token's update is one row on the hot path of every opening: a row
-- trigger whose condition leaves out the columns an opening writes.
CREATE TRIGGER guest_tokens_epoch_update AFTER UPDATE ON guest_tokens
  FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id OR OLD.owner_id IS DISTINCT FROM NEW.owner_id
    OR OLD.name IS DISTINCT FROM NEW.name
    OR OLD.secret_hash IS DISTINCT FROM NEW.secret_hash OR OLD.secret_sealed IS DISTINCT FROM NEW.secret_sealed
    OR OLD.password_hash IS DISTINCT FROM NEW.password_hash OR OLD.session_version IS DISTINCT FROM NEW.session_version
    OR OLD.expires_at IS DISTINCT FROM NEW.expires_at OR OLD.max_uses IS DISTINCT FROM NEW.max_uses
    OR OLD.can_download IS DISTINCT FROM NEW.can_download OR OLD.show_metadata IS DISTINCT FROM NEW.show_metadata
    OR OLD.can_comment IS DISTINCT FROM NEW.can_comment OR OLD.note IS DISTINCT FROM NEW.note
    OR OLD.created_at IS DISTINCT FROM NEW.created_at OR OLD.revoked_at IS DISTINCT FROM NEW.revoked_at
    OR OLD.valid_from IS DISTINCT FROM NEW.valid_from
    OR OLD.expires_after_first_use IS DISTINCT FROM NEW.expires_after_first_use)
  EXECUTE FUNCTION owner_epochs_bump_row();
--bun:split
-- Rows of an item (acl_entries) or of a group (group_members): the owner is
-- the parent's. Arguments: the parent's table and the rows' column naming it.
CREATE FUNCTION owner_epochs_bump_parent() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  parents text := CASE TG_OP
    WHEN 'INSERT' THEN 'SELECT %2$I FROM new_rows'
    WHEN 'DELETE' THEN 'SELECT %2$I FROM old_rows'
    ELSE 'SELECT %2$I FROM old_rows UNION SELECT %2$I FROM new_rows' END;
BEGIN
  EXECUTE format('UPDATE owner_epochs SET epoch = epoch + 1
    WHERE owner_id IN (SELECT p.owner_id FROM %1$I AS p WHERE p.id IN (' || parents || '))', TG_ARGV[0], TG_ARGV[1]);
  RETURN NULL;
END;
$$;
--bun:split
CREATE TRIGGER acl_entries_epoch_insert AFTER INSERT ON acl_entries
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION owner_epochs_bump_parent('items', 'item_id');
--bun:split
CREATE TRIGGER acl_entries_epoch_update AFTER UPDATE ON acl_entries
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION owner_epochs_bump_parent('items', 'item_id');
--bun:split
CREATE TRIGGER acl_entries_epoch_delete AFTER DELETE ON acl_entries
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION owner_epochs_bump_parent('items', 'item_id');
--bun:split
CREATE TRIGGER group_members_epoch_insert AFTER INSERT ON group_members
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION owner_epochs_bump_parent('groups', 'group_id');
--bun:split
CREATE TRIGGER group_members_epoch_update AFTER UPDATE ON group_members
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION owner_epochs_bump_parent('groups', 'group_id');
--bun:split
CREATE TRIGGER group_members_epoch_delete AFTER DELETE ON group_members
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION owner_epochs_bump_parent('groups', 'group_id');
