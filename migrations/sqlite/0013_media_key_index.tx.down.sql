DROP INDEX items_media_key_idx;
