-- The model registry: what kind of move each audited alias move was (so a rollback knows which
-- moves it undoes), and the MLflow registry mirror's queue and bookkeeping.

-- register: a register stage pointed the alias at the version it made; promote: a person (or a
-- rollout) pointed it at a chosen version; rollback: it went back to where it pointed before the
-- last move not yet undone (or was removed).
ALTER TABLE model_alias_events ADD COLUMN move text NOT NULL DEFAULT 'promote'
    CHECK (move IN ('register', 'promote', 'rollback'));

-- A model (its row, a version, an alias) changed: the mirror brings MLflow's registered model in
-- step, then deletes the rows it read. Like mlflow_mirror_changes: written only while a mirror has
-- switched itself on, insert-only, so registration never waits on the mirror.
CREATE TABLE mlflow_registry_changes (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    model      text NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX mlflow_registry_changes_model ON mlflow_registry_changes (model);

-- The registered models MLflow has.
CREATE TABLE mlflow_registered_models (
    model text PRIMARY KEY REFERENCES models (name)
);

-- MLflow's number of each mirrored version (MLflow numbers versions itself), stored right after
-- MLflow made it.
CREATE TABLE mlflow_model_versions (
    model          text NOT NULL,
    version        integer NOT NULL,
    mlflow_version text NOT NULL,
    PRIMARY KEY (model, version),
    FOREIGN KEY (model, version) REFERENCES model_versions (model, version)
);

-- What MLflow was last told about each alias (the Baton version it points at).
CREATE TABLE mlflow_model_aliases (
    model   text NOT NULL REFERENCES models (name),
    alias   text NOT NULL,
    version integer NOT NULL,
    PRIMARY KEY (model, alias)
);

-- A model, a version or an alias changed; TG_ARGV[0] names the column holding the model's name.
CREATE FUNCTION baton_mlflow_model_row_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM mlflow_mirror) THEN
        INSERT INTO mlflow_registry_changes (model) VALUES (
            (CASE WHEN TG_OP = 'DELETE' THEN to_jsonb(OLD) ELSE to_jsonb(NEW) END) ->> TG_ARGV[0]);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER models_mlflow_mirror AFTER INSERT ON models
    FOR EACH ROW EXECUTE FUNCTION baton_mlflow_model_row_changed('name');
CREATE TRIGGER model_versions_mlflow_mirror AFTER INSERT ON model_versions
    FOR EACH ROW EXECUTE FUNCTION baton_mlflow_model_row_changed('model');
CREATE TRIGGER model_aliases_mlflow_mirror AFTER INSERT OR UPDATE OR DELETE ON model_aliases
    FOR EACH ROW EXECUTE FUNCTION baton_mlflow_model_row_changed('model');

-- A mirror switched on before this migration: queue every model so MLflow gets the history.
INSERT INTO mlflow_registry_changes (model) SELECT name FROM models WHERE EXISTS (SELECT 1 FROM mlflow_mirror);
