-- Notifications for owners (in-app, optionally by e-mail), the members'
-- e-mail settings, and the networks each guest token was opened from.
ALTER TABLE members ADD COLUMN email TEXT;
--bun:split
ALTER TABLE members ADD COLUMN notify_email BOOLEAN NOT NULL DEFAULT TRUE;
--bun:split
-- token_id and item_id carry no foreign key, as in the access log: the flush
-- that writes most notifications must not fail on a deleted item, and pages
-- show an item only while it exists and belongs to the owner. dedup, when
-- set, makes a notification that must happen once (a token's first opening,
-- one expiry) unique across instances.
CREATE TABLE notifications (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  owner_id BIGINT NOT NULL REFERENCES members (id) ON DELETE CASCADE,
  at TIMESTAMP NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('first_open', 'new_network', 'password_failures', 'expiring', 'comment')),
  token_id BIGINT,
  item_id BIGINT,
  text TEXT NOT NULL,
  read_at TIMESTAMP,
  dedup TEXT UNIQUE
);
--bun:split
CREATE INDEX notifications_owner_idx ON notifications (owner_id, id);
--bun:split
CREATE INDEX notifications_unread_idx ON notifications (owner_id, id) WHERE read_at IS NULL;
--bun:split
CREATE INDEX notifications_token_idx ON notifications (token_id, kind, at);
--bun:split
-- mark is a keyed hash of the client network, per token and stable (unlike
-- the access log's daily mark), so that an opening from a network not seen
-- before for the token can be told; the address itself is never stored.
-- Rows not seen within the access-log retention are pruned with it.
CREATE TABLE token_networks (
  token_id BIGINT NOT NULL,
  mark TEXT NOT NULL,
  first_at TIMESTAMP NOT NULL,
  last_at TIMESTAMP NOT NULL,
  PRIMARY KEY (token_id, mark)
);
--bun:split
CREATE INDEX token_networks_last_idx ON token_networks (last_at);
--bun:split
-- Tokens opened before notifications existed are not new: an empty mark (no
-- real mark is empty) says so, and their first network after the upgrade
-- is taken in silently instead of being told as a first opening.
INSERT INTO token_networks (token_id, mark, first_at, last_at)
  SELECT id, '', coalesce(last_used_at, created_at), coalesce(last_used_at, created_at)
  FROM guest_tokens WHERE uses > 0 OR last_used_at IS NOT NULL;
