DROP TRIGGER items_forget_views ON items;
--bun:split
DROP FUNCTION token_item_views_forget_item();
--bun:split
DROP TRIGGER guest_tokens_forget_views ON guest_tokens;
--bun:split
DROP FUNCTION token_item_views_forget_token();
--bun:split
DROP TABLE token_item_views;
