-- Ray stages: which job an attempt launched, what it reported, and what became of it.

-- The stage kind, copied onto the attempt so watchers can find Ray attempts without a join.
ALTER TABLE stage_attempts ADD COLUMN kind text NOT NULL DEFAULT 'noop'
    CHECK (kind IN ('ray', 'gate', 'register', 'rollout', 'noop'));
-- The Ray submission id (the attempt id) once Ray accepted the job; set before the offset of
-- the stage.ready event is committed.
ALTER TABLE stage_attempts ADD COLUMN ray_submission_id text UNIQUE;
ALTER TABLE stage_attempts ADD COLUMN submitted_at timestamptz;
-- Ray's last word on the job, and Ray's own start and end times of it.
ALTER TABLE stage_attempts ADD COLUMN ray_status text;
ALTER TABLE stage_attempts ADD COLUMN ray_started_at timestamptz;
ALTER TABLE stage_attempts ADD COLUMN ray_ended_at timestamptz;
ALTER TABLE stage_attempts ADD COLUMN ray_message text;
ALTER TABLE stage_attempts ADD COLUMN ray_error_type text;
ALTER TABLE stage_attempts ADD COLUMN driver_exit_code integer;
-- Set once Ray confirmed a job of an ended (cancelled, timed out) attempt stopped.
ALTER TABLE stage_attempts ADD COLUMN ray_stopped_at timestamptz;

-- Ray attempts whose watcher vanished: adopted by another watcher.
CREATE INDEX stage_attempts_ray_running ON stage_attempts (lease_expires_at)
    WHERE state = 'running' AND kind = 'ray';
-- Ended Ray attempts whose job may still run: stopped by a watcher.
CREATE INDEX stage_attempts_ray_to_stop ON stage_attempts (finished_at)
    WHERE kind = 'ray' AND ray_submission_id IS NOT NULL AND ray_stopped_at IS NULL
      AND state IN ('cancelled', 'timed_out');

-- Outputs a job reported with `::baton::output`.
CREATE TABLE attempt_outputs (
    attempt_id uuid NOT NULL REFERENCES stage_attempts (id) ON DELETE CASCADE,
    name       text NOT NULL,
    uri        text NOT NULL,
    md5        text,
    size       bigint,
    nfiles     integer,
    PRIMARY KEY (attempt_id, name)
);

-- Metrics a job reported with `::baton::metric`.
CREATE TABLE attempt_metrics (
    attempt_id  uuid NOT NULL REFERENCES stage_attempts (id) ON DELETE CASCADE,
    key         text NOT NULL,
    step        bigint NOT NULL DEFAULT 0,
    value       double precision NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (attempt_id, key, step)
);
