-- MLflow runs the mirror began to make: a subject is marked (committed) before the create call
-- and cleared in the statement that stores MLflow's id. Only a subject still marked when the
-- mirror comes back to it (a crash or a failed call between the two) is looked up in MLflow by
-- its Baton tag before a run is made; every other create goes without that search.
CREATE TABLE mlflow_mirror_creating (
    -- A run's id (its parent MLflow run) or an attempt's (its nested one).
    subject   uuid PRIMARY KEY,
    marked_at timestamptz NOT NULL DEFAULT now()
);
