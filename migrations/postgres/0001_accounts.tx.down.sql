DROP TABLE throttle;
--bun:split
DROP TABLE api_tokens;
--bun:split
DROP TABLE sessions;
--bun:split
DROP TABLE members;
--bun:split
DROP TABLE principals;
