-- One row per periodic job shared by every instance on the database: a run
-- is claimed with one conditional UPDATE, so each run happens once across
-- instances. holder: the instance running or last to run it; locked_until:
-- the end of that run's lease; next_run_at: when the next run is due; runs:
-- how many runs have been claimed.
CREATE TABLE job_leases (
  name TEXT PRIMARY KEY,
  holder TEXT NOT NULL DEFAULT '',
  locked_until TIMESTAMPTZ NOT NULL,
  next_run_at TIMESTAMPTZ NOT NULL,
  runs BIGINT NOT NULL DEFAULT 0
);
