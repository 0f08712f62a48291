-- Each instance keeps the guest view of an item in memory, tagged with the
-- epoch of the item's owner, and checks the epoch (one row by key) before it
-- answers from memory. Every change that can alter what a guest of the
-- owner's items sees moves the epoch in its own transaction, here, by
-- trigger: an item changed or deleted, an ACL entry, a group's members, a
-- group deleted, a token's settings or state, the owner's display name. A
-- token's uses, last use and first use do not move it: the guest view does
-- not read them, and they change on every opening.
CREATE TABLE owner_epochs (
  owner_id BIGINT PRIMARY KEY REFERENCES members (id) ON DELETE CASCADE,
  epoch BIGINT NOT NULL
);
INSERT INTO owner_epochs (owner_id, epoch) SELECT id, 1 FROM members;
CREATE TRIGGER members_epoch_start AFTER INSERT ON members
BEGIN
  INSERT INTO owner_epochs (owner_id, epoch) VALUES (NEW.id, 1);
END;
CREATE TRIGGER members_epoch_update AFTER UPDATE ON members
WHEN OLD.display_name IS NOT NEW.display_name
BEGIN
  UPDATE owner_epochs SET epoch = epoch + 1 WHERE owner_id = NEW.id;
END;
CREATE TRIGGER items_epoch_update AFTER UPDATE ON items
BEGIN
  UPDATE owner_epochs SET epoch = epoch + 1 WHERE owner_id IN (OLD.owner_id, NEW.owner_id);
END;
CREATE TRIGGER items_epoch_delete AFTER DELETE ON items
BEGIN
  UPDATE owner_epochs SET epoch = epoch + 1 WHERE owner_id = OLD.owner_id;
END;
CREATE TRIGGER acl_entries_epoch_insert AFTER INSERT ON acl_entries
BEGIN
  UPDATE owner_epochs SET epoch = epoch + 1 WHERE owner_id = (SELECT owner_id FROM items WHERE id = NEW.item_id);
END;
CREATE TRIGGER acl_entries_epoch_update AFTER UPDATE ON acl_entries
BEGIN
  UPDATE owner_epochs SET epoch = epoch + 1
  WHERE owner_id IN (SELECT owner_id FROM items WHERE id IN (OLD.item_id, NEW.item_id));
END;
CREATE TRIGGER acl_entries_epoch_delete AFTER DELETE ON acl_entries
BEGIN
  UPDATE owner_epochs SET epoch = epoch + 1 WHERE owner_id = (SELECT owner_id FROM items WHERE id = OLD.item_id);
END;
CREATE TRIGGER group_members_epoch_insert AFTER INSERT ON group_members
BEGIN
  UPDATE owner_epochs SET epoch = epoch + 1 WHERE owner_id = (SELECT owner_id FROM groups WHERE id = NEW.group_id);
END;
CREATE TRIGGER group_members_epoch_update AFTER UPDATE ON group_members
BEGIN
  UPDATE owner_epochs SET epoch = epoch + 1
  WHERE owner_id IN (SELECT owner_id FROM groups WHERE id IN (OLD.group_id, NEW.group_id));
END;
CREATE TRIGGER group_members_epoch_delete AFTER DELETE ON group_members
BEGIN
  UPDATE owner_epochs SET epoch = epoch + 1 WHERE owner_id = (SELECT owner_id FROM groups WHERE id = OLD.group_id);
END;
CREATE TRIGGER groups_epoch_delete AFTER DELETE ON groups
BEGIN
  UPDATE owner_epochs SET epoch = epoch + 1 WHERE owner_id = OLD.owner_id;
END;
CREATE TRIGGER guest_tokens_epoch_update AFTER UPDATE ON guest_tokens
WHEN OLD.id IS NOT NEW.id OR OLD.owner_id IS NOT NEW.owner_id OR OLD.name IS NOT NEW.name
  OR OLD.secret_hash IS NOT NEW.secret_hash OR OLD.secret_sealed IS NOT NEW.secret_sealed
  OR OLD.password_hash IS NOT NEW.password_hash OR OLD.session_version IS NOT NEW.session_version
  OR OLD.expires_at IS NOT NEW.expires_at OR OLD.max_uses IS NOT NEW.max_uses
  OR OLD.can_download IS NOT NEW.can_download OR OLD.show_metadata IS NOT NEW.show_metadata
  OR OLD.can_comment IS NOT NEW.can_comment OR OLD.note IS NOT NEW.note
  OR OLD.created_at IS NOT NEW.created_at OR OLD.revoked_at IS NOT NEW.revoked_at
  OR OLD.valid_from IS NOT NEW.valid_from OR OLD.expires_after_first_use IS NOT NEW.expires_after_first_use
BEGIN
  UPDATE owner_epochs SET epoch = epoch + 1 WHERE owner_id IN (OLD.owner_id, NEW.owner_id);
END;
CREATE TRIGGER guest_tokens_epoch_delete AFTER DELETE ON guest_tokens
BEGIN
  UPDATE owner_epochs SET epoch = epoch + 1 WHERE owner_id = OLD.owner_id;
END;
