DROP TRIGGER items_forget_views;
--bun:split
DROP TRIGGER guest_tokens_forget_views;
--bun:split
DROP TABLE token_item_views;
