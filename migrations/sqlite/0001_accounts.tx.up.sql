CREATE TABLE principals (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL CHECK (kind IN ('member', 'group', 'token'))
);
--bun:split
CREATE TABLE members (
  id BIGINT PRIMARY KEY REFERENCES principals (id) ON DELETE CASCADE,
  handle TEXT NOT NULL,
  display_name TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  created_at TIMESTAMP NOT NULL
);
--bun:split
CREATE UNIQUE INDEX members_handle_idx ON members (lower(handle));
--bun:split
CREATE TABLE sessions (
  id_hash BLOB PRIMARY KEY,
  member_id BIGINT NOT NULL REFERENCES members (id) ON DELETE CASCADE,
  created_at TIMESTAMP NOT NULL,
  last_seen_at TIMESTAMP NOT NULL
);
--bun:split
CREATE INDEX sessions_member_idx ON sessions (member_id);
--bun:split
CREATE TABLE api_tokens (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  member_id BIGINT NOT NULL REFERENCES members (id) ON DELETE CASCADE,
  token_hash BLOB NOT NULL UNIQUE,
  description TEXT NOT NULL DEFAULT '',
  scopes TEXT NOT NULL,
  created_at TIMESTAMP NOT NULL,
  last_used_at TIMESTAMP,
  expires_at TIMESTAMP,
  revoked_at TIMESTAMP
);
--bun:split
CREATE INDEX api_tokens_member_idx ON api_tokens (member_id);
--bun:split
CREATE TABLE throttle (
  action TEXT NOT NULL,
  key TEXT NOT NULL,
  failures INTEGER NOT NULL,
  window_start TIMESTAMP NOT NULL,
  blocked_until TIMESTAMP,
  PRIMARY KEY (action, key)
);
