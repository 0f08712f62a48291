DROP INDEX guest_tokens_owner_idx;
--bun:split
CREATE INDEX guest_tokens_owner_idx ON guest_tokens (owner_id);
