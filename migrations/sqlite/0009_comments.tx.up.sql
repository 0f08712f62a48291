-- Guest comments: a token with can_comment lets its guests comment on the
-- items it opens. A comment belongs to the item's owner (who hides or
-- deletes it) and names the token it came through; a revoked token's
-- comments stay for the owner.
ALTER TABLE guest_tokens ADD COLUMN can_comment BOOLEAN NOT NULL DEFAULT FALSE;
--bun:split
CREATE TABLE comments (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  item_id BIGINT NOT NULL REFERENCES items (id) ON DELETE CASCADE,
  owner_id BIGINT NOT NULL REFERENCES members (id) ON DELETE CASCADE,
  token_id BIGINT NOT NULL REFERENCES guest_tokens (id) ON DELETE CASCADE,
  author TEXT NOT NULL DEFAULT '',
  body TEXT NOT NULL,
  hidden BOOLEAN NOT NULL DEFAULT FALSE,
  created_at TIMESTAMP NOT NULL
);
--bun:split
CREATE INDEX comments_item_idx ON comments (item_id, id);
--bun:split
CREATE INDEX comments_token_idx ON comments (token_id);
