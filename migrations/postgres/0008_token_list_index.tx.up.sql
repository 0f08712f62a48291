-- Token lists are paged newest first within an owner: by index, not by a sort
-- of every token of the owner.
DROP INDEX guest_tokens_owner_idx;
--bun:split
CREATE INDEX guest_tokens_owner_idx ON guest_tokens (owner_id, id);
