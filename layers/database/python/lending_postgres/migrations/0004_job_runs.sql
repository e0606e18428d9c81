-- When each scheduled job last finished, on any host, and what it did: `make jobs` and the VMs'
-- timer run a job only when its period has passed since then (lending_http.jobs). One row per job.
-- Online-safe: a new table, nothing else touched.

CREATE TABLE IF NOT EXISTS job_runs (
    job              text PRIMARY KEY,
    last_finished_at timestamptz NOT NULL,
    last_summary     text NOT NULL DEFAULT ''
);
