-- Gates and the model registry: a gate's decision with the values it saw; models, versions,
-- aliases and an audit log of every alias move.

-- A gate that does not pass rejects its attempt, its stage and the run: an outcome of its
-- own, distinct from a failure (nothing broke; the model was not good enough).
ALTER TABLE runs DROP CONSTRAINT runs_state_check,
    ADD CONSTRAINT runs_state_check
        CHECK (state IN ('running', 'succeeded', 'failed', 'cancelled', 'rejected_by_gate'));
ALTER TABLE stages DROP CONSTRAINT stages_state_check,
    ADD CONSTRAINT stages_state_check
        CHECK (state IN ('pending', 'ready', 'running', 'succeeded', 'failed', 'skipped', 'cancelled', 'rejected'));
ALTER TABLE stage_attempts DROP CONSTRAINT stage_attempts_state_check,
    ADD CONSTRAINT stage_attempts_state_check
        CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'timed_out', 'cancelled', 'lost', 'rejected'));
INSERT INTO state_transitions (entity, from_state, to_state) VALUES
    ('run', 'running', 'rejected_by_gate'),
    ('stage', 'running', 'rejected'),
    ('attempt', 'running', 'rejected');

-- One row per evaluated gate attempt: the condition, the outcome, every value it read
-- (reference -> value, null when missing), and for a rejection the clause that failed.
CREATE TABLE gate_decisions (
    attempt_id    uuid PRIMARY KEY REFERENCES stage_attempts (id) ON DELETE CASCADE,
    run_id        uuid NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    stage         text NOT NULL,
    condition     text NOT NULL,
    passed        boolean NOT NULL,
    observed      jsonb NOT NULL,
    failed_clause text,
    -- The model whose champion the condition compared against, and that champion's version.
    model         text,
    champion_version integer,
    decided_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX gate_decisions_run ON gate_decisions (run_id);

-- Registered models and their versions. A version is one artifact of one run, with a snapshot
-- of the metrics behind it; versions number from 1 per model.
CREATE TABLE models (
    name         text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$'),
    last_version integer NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE model_versions (
    model       text NOT NULL REFERENCES models (name),
    version     integer NOT NULL CHECK (version >= 1),
    artifact_id bigint NOT NULL REFERENCES artifacts (id),
    run_id      uuid NOT NULL REFERENCES runs (id),
    stage       text NOT NULL,
    attempt_id  uuid NOT NULL REFERENCES stage_attempts (id),
    -- stage -> metric key -> last value, of the stages upstream of the register stage.
    metrics     jsonb NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (model, version),
    -- One version per run's register stage, however often it is retried or redelivered.
    UNIQUE (model, run_id, stage)
);
CREATE INDEX model_versions_artifact ON model_versions (artifact_id);
CREATE INDEX model_versions_run ON model_versions (run_id);

-- Aliases (candidate, champion, ...) point at one version each.
CREATE TABLE model_aliases (
    model      text NOT NULL REFERENCES models (name),
    alias      text NOT NULL CHECK (alias ~ '^[a-z][a-z0-9_-]{0,63}$'),
    version    integer NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (model, alias),
    FOREIGN KEY (model, version) REFERENCES model_versions (model, version)
);

-- Every alias move, by whom and why: the engine (register, rollout) or a person (CLI).
CREATE TABLE model_alias_events (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    model        text NOT NULL REFERENCES models (name),
    alias        text NOT NULL,
    from_version integer,
    to_version   integer,
    actor        text NOT NULL,
    reason       text,
    run_id       uuid REFERENCES runs (id),
    moved_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX model_alias_events_model ON model_alias_events (model, alias, moved_at DESC);
