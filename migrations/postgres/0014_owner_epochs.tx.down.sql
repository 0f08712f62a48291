DROP TRIGGER group_members_epoch_delete ON group_members;
--bun:split
DROP TRIGGER group_members_epoch_update ON group_members;
--bun:split
DROP TRIGGER group_members_epoch_insert ON group_members;
--bun:split
DROP TRIGGER acl_entries_epoch_delete ON acl_entries;
--bun:split
DROP TRIGGER acl_entries_epoch_update ON acl_entries;
--bun:split
DROP TRIGGER acl_entries_epoch_insert ON acl_entries;
--bun:split
DROP FUNCTION owner_epochs_bump_parent();
--bun:split
DROP TRIGGER guest_tokens_epoch_update ON guest_tokens;
--bun:split
DROP TRIGGER guest_tokens_epoch_delete ON guest_tokens;
--bun:split
DROP TRIGGER groups_epoch_delete ON groups;
--bun:split
DROP TRIGGER items_epoch_delete ON items;
--bun:split
DROP TRIGGER items_epoch_update ON items;
--bun:split
DROP FUNCTION owner_epochs_bump_owned();
--bun:split
DROP TRIGGER members_epoch_update ON members;
--bun:split
DROP FUNCTION owner_epochs_bump_member();
--bun:split
DROP FUNCTION owner_epochs_bump_row();
--bun:split
DROP TRIGGER members_epoch_start ON members;
--bun:split
DROP FUNCTION owner_epochs_start();
--bun:split
DROP TABLE owner_epochs;
