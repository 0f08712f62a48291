DROP TABLE access_log;
--bun:split
DROP TABLE acl_entries;
--bun:split
DROP TABLE items;
--bun:split
DROP TABLE guest_tokens;
--bun:split
DROP TABLE group_members;
--bun:split
DROP TABLE groups;
