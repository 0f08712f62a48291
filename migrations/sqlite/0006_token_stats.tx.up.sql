-- What each guest token reaches, kept up to date by every write that changes
-- it: the items shared with it and the ACL entries naming it (directly or
-- through a group). A token without a row is counted from scratch on the
-- next listing of its owner's tokens.
CREATE TABLE token_stats (
  token_id BIGINT PRIMARY KEY REFERENCES guest_tokens (id) ON DELETE CASCADE,
  items INTEGER NOT NULL DEFAULT 0,
  entries INTEGER NOT NULL DEFAULT 0
);
