-- Every run of a job: when, how it ended, and what each step did.
CREATE SEQUENCE job_runs_seq;
CREATE TABLE job_runs (
    id           BIGINT PRIMARY KEY,
    job          VARCHAR NOT NULL,
    trigger      VARCHAR NOT NULL,      -- manual | scheduled | missed | demo
    host         VARCHAR NOT NULL,
    pid          INTEGER NOT NULL,
    started_at   TIMESTAMPTZ NOT NULL,
    finished_at  TIMESTAMPTZ,
    outcome      VARCHAR NOT NULL,      -- running | ok | attention | failed | interrupted
    exit_code    INTEGER,
    steps        JSON,                  -- [{step, outcome, exit_code, seconds, counts, error}]
    error        VARCHAR
);
