-- MLflow mirror: which runs changed since the mirror last brought MLflow in step, the metric
-- points not sent yet, and the MLflow ids of what was mirrored (so a restart or a crash
-- between an MLflow call and its bookkeeping never creates a second MLflow run).
--
-- The triggers only record while a mirror has switched itself on (the row in mlflow_mirror),
-- so a deployment without MLflow pays one lookup of an empty table per write. Writers only
-- ever INSERT into the queues (no unique keys, no updates), so a pipeline never waits on the
-- mirror's locks.

CREATE TABLE mlflow_mirror (
    singleton        boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    enabled_at       timestamptz NOT NULL DEFAULT now(),
    -- One mirror at a time brings MLflow in step (two could each create the same MLflow run).
    owner            text,
    lease_expires_at timestamptz
);

-- A run (its row, an attempt, params, outputs or metrics) changed: the mirror reads the run
-- again, brings MLflow in step, then deletes the rows it read.
CREATE TABLE mlflow_mirror_changes (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id     uuid NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX mlflow_mirror_changes_run ON mlflow_mirror_changes (run_id);

-- Metric points written since they were last sent; deleted once MLflow has them.
CREATE TABLE mlflow_mirror_pending_metrics (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    attempt_id  uuid NOT NULL REFERENCES stage_attempts (id) ON DELETE CASCADE,
    key         text NOT NULL,
    step        bigint NOT NULL,
    value       double precision NOT NULL,
    recorded_at timestamptz NOT NULL
);
CREATE INDEX mlflow_mirror_pending_metrics_attempt ON mlflow_mirror_pending_metrics (attempt_id, id);

-- MLflow's ids, stored right after MLflow made them.
CREATE TABLE mlflow_experiments (
    name          text PRIMARY KEY,
    experiment_id text NOT NULL
);

-- The parent MLflow run of a Baton run, and what it was last told.
CREATE TABLE mlflow_runs (
    run_id        uuid PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
    experiment_id text NOT NULL,
    mlflow_run_id text NOT NULL,
    status        text,
    params_logged boolean NOT NULL DEFAULT false
);

-- The nested MLflow run of a stage attempt, and what it was last told.
CREATE TABLE mlflow_attempts (
    attempt_id     uuid PRIMARY KEY REFERENCES stage_attempts (id) ON DELETE CASCADE,
    mlflow_run_id  text NOT NULL,
    status         text,
    params_logged  integer NOT NULL DEFAULT 0,
    outputs_logged integer NOT NULL DEFAULT 0
);

-- A run or an attempt changed; TG_ARGV[0] names the column holding the run id.
CREATE FUNCTION baton_mlflow_row_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM mlflow_mirror) THEN
        INSERT INTO mlflow_mirror_changes (run_id) VALUES ((to_jsonb(NEW) ->> TG_ARGV[0])::uuid);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER runs_mlflow_mirror AFTER INSERT OR UPDATE OF state, finished_at ON runs
    FOR EACH ROW EXECUTE FUNCTION baton_mlflow_row_changed('id');
CREATE TRIGGER stage_attempts_mlflow_mirror AFTER INSERT OR UPDATE OF state, started_at, finished_at
    ON stage_attempts FOR EACH ROW EXECUTE FUNCTION baton_mlflow_row_changed('run_id');

-- Params, outputs and metrics: one row per statement and run, whatever the number of rows written.
CREATE FUNCTION baton_mlflow_attempt_rows_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM mlflow_mirror) THEN
        INSERT INTO mlflow_mirror_changes (run_id)
        SELECT DISTINCT a.run_id FROM changed_rows c JOIN stage_attempts a ON a.id = c.attempt_id;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER attempt_params_mlflow_mirror_insert AFTER INSERT ON attempt_params
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION baton_mlflow_attempt_rows_changed();
CREATE TRIGGER attempt_params_mlflow_mirror_update AFTER UPDATE ON attempt_params
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION baton_mlflow_attempt_rows_changed();
CREATE TRIGGER attempt_outputs_mlflow_mirror_insert AFTER INSERT ON attempt_outputs
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION baton_mlflow_attempt_rows_changed();
CREATE TRIGGER attempt_outputs_mlflow_mirror_update AFTER UPDATE ON attempt_outputs
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION baton_mlflow_attempt_rows_changed();
CREATE TRIGGER attempt_metrics_mlflow_mirror_insert AFTER INSERT ON attempt_metrics
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION baton_mlflow_attempt_rows_changed();
CREATE TRIGGER attempt_metrics_mlflow_mirror_update AFTER UPDATE ON attempt_metrics
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION baton_mlflow_attempt_rows_changed();

-- Metric points are queued themselves, so that only the ones MLflow lacks are sent.
CREATE FUNCTION baton_mlflow_metrics_queued() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM mlflow_mirror) THEN
        INSERT INTO mlflow_mirror_pending_metrics (attempt_id, key, step, value, recorded_at)
        SELECT attempt_id, key, step, value, recorded_at FROM changed_rows;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER attempt_metrics_mlflow_mirror_queue_insert AFTER INSERT ON attempt_metrics
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION baton_mlflow_metrics_queued();
CREATE TRIGGER attempt_metrics_mlflow_mirror_queue_update AFTER UPDATE ON attempt_metrics
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION baton_mlflow_metrics_queued();
