ALTER TABLE items DROP COLUMN cover_id;
