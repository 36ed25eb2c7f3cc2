-- Rollout stages: every canary step as it ran (setWeight, pause, analysis with its measurements),
-- so "why is this model serving?" can show how its version reached traffic (docs/lineage.md).
-- One row per attempt and step; an attempt re-run after a lost lease overwrites its rows.
CREATE TABLE rollout_steps (
    attempt_id        uuid NOT NULL REFERENCES stage_attempts (id),
    step_index        integer NOT NULL CHECK (step_index BETWEEN 0 AND 63),
    run_id            uuid NOT NULL REFERENCES runs (id),
    stage             text NOT NULL,
    model             text NOT NULL REFERENCES models (name),
    candidate_version integer NOT NULL,
    stable_version    integer,
    kind              text NOT NULL CHECK (kind IN ('setWeight', 'pause', 'analysis')),
    weight            integer NOT NULL CHECK (weight BETWEEN 0 AND 100),
    phase             text NOT NULL CHECK (phase IN ('succeeded', 'failed')),
    measurements      jsonb NOT NULL DEFAULT '{}',
    message           text,
    recorded_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (attempt_id, step_index),
    FOREIGN KEY (model, candidate_version) REFERENCES model_versions (model, version)
);
CREATE INDEX rollout_steps_version ON rollout_steps (model, candidate_version);
CREATE INDEX rollout_steps_run ON rollout_steps (run_id);
