CREATE TABLE groups (
  id BIGINT PRIMARY KEY REFERENCES principals (id) ON DELETE CASCADE,
  owner_id BIGINT NOT NULL REFERENCES members (id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  created_at TIMESTAMP NOT NULL
);
--bun:split
CREATE UNIQUE INDEX groups_owner_name_idx ON groups (owner_id, name);
--bun:split
CREATE TABLE group_members (
  group_id BIGINT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
  principal_id BIGINT NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
  PRIMARY KEY (group_id, principal_id)
);
--bun:split
CREATE INDEX group_members_principal_idx ON group_members (principal_id, group_id);
--bun:split
CREATE TABLE guest_tokens (
  id BIGINT PRIMARY KEY REFERENCES principals (id) ON DELETE CASCADE,
  owner_id BIGINT NOT NULL REFERENCES members (id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  secret_hash BLOB NOT NULL UNIQUE,
  secret_sealed BLOB NOT NULL,
  password_hash TEXT,
  session_version INTEGER NOT NULL DEFAULT 1,
  expires_at TIMESTAMP,
  max_uses INTEGER CHECK (max_uses IS NULL OR max_uses >= 0),
  uses INTEGER NOT NULL DEFAULT 0,
  can_download BOOLEAN NOT NULL DEFAULT FALSE,
  show_metadata BOOLEAN NOT NULL DEFAULT FALSE,
  note TEXT NOT NULL DEFAULT '',
  created_at TIMESTAMP NOT NULL,
  last_used_at TIMESTAMP,
  revoked_at TIMESTAMP
);
--bun:split
CREATE INDEX guest_tokens_owner_idx ON guest_tokens (owner_id);
--bun:split
CREATE TABLE items (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  owner_id BIGINT NOT NULL REFERENCES members (id) ON DELETE CASCADE,
  kind TEXT NOT NULL CHECK (kind IN ('post', 'photo', 'album')),
  title TEXT NOT NULL DEFAULT '',
  body TEXT NOT NULL DEFAULT '',
  album_id BIGINT REFERENCES items (id) ON DELETE SET NULL,
  public BOOLEAN NOT NULL DEFAULT FALSE,
  media_key TEXT,
  content_type TEXT,
  width INTEGER,
  height INTEGER,
  size_bytes BIGINT,
  created_at TIMESTAMP NOT NULL,
  updated_at TIMESTAMP NOT NULL
);
--bun:split
CREATE INDEX items_owner_idx ON items (owner_id, id);
--bun:split
CREATE INDEX items_album_idx ON items (album_id) WHERE album_id IS NOT NULL;
--bun:split
CREATE TABLE acl_entries (
  item_id BIGINT NOT NULL REFERENCES items (id) ON DELETE CASCADE,
  principal_id BIGINT NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
  deny BOOLEAN NOT NULL DEFAULT FALSE,
  PRIMARY KEY (item_id, principal_id)
);
--bun:split
CREATE INDEX acl_entries_principal_idx ON acl_entries (principal_id, item_id);
--bun:split
CREATE TABLE access_log (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at TIMESTAMP NOT NULL,
  token_id BIGINT NOT NULL REFERENCES guest_tokens (id) ON DELETE CASCADE,
  item_id BIGINT REFERENCES items (id) ON DELETE CASCADE,
  event TEXT NOT NULL CHECK (event IN ('open', 'view', 'download', 'denied_password', 'failed')),
  client_mark TEXT NOT NULL DEFAULT '',
  reason TEXT NOT NULL DEFAULT ''
);
--bun:split
CREATE INDEX access_log_item_idx ON access_log (item_id, at);
--bun:split
CREATE INDEX access_log_token_idx ON access_log (token_id, at);
--bun:split
CREATE INDEX access_log_at_idx ON access_log (at);
