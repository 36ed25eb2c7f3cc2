-- MLflow mirror parking: a run or a registered model whose changes MLflow refuses for good (a
-- 4xx such as an invalid metric key, or a run deleted in MLflow's UI) is parked here, so the
-- mirror moves on to everything behind it instead of retrying the same refusal forever.
--
-- A parked subject keeps collecting changes in its queue (mlflow_mirror_changes or
-- mlflow_registry_changes); the mirror skips them until `baton mirror retry` deletes the row
-- here, then replays the subject with everything queued meanwhile.

CREATE TABLE mlflow_mirror_parked (
    -- run: subject is a Baton run id; model: subject is a registered model's name.
    kind       text NOT NULL CHECK (kind IN ('run', 'model')),
    subject    text NOT NULL,
    -- MLflow's refusal, as a sentence with MLflow's error code and status.
    error      text NOT NULL,
    error_code text,
    failed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, subject)
);

-- Who asked the mirror to try a parked subject again, and what it had failed with.
CREATE TABLE mlflow_mirror_retries (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind       text NOT NULL CHECK (kind IN ('run', 'model')),
    subject    text NOT NULL,
    error      text NOT NULL,
    failed_at  timestamptz NOT NULL,
    actor      text NOT NULL,
    retried_at timestamptz NOT NULL DEFAULT now()
);
