-- The media sweep asks which of a batch of stored keys a photo still refers to:
-- by index, not by a scan of every item.
CREATE INDEX items_media_key_idx ON items (media_key);
