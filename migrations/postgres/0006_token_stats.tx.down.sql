DROP TABLE token_stats;
