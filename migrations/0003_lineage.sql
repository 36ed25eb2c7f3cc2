-- Lineage: artifacts, the edges artifact -> attempt (inputs) and attempt -> artifact
-- (outputs), the params each attempt ran with, and what the content-addressed cache needs.

-- An artifact is a URI at a content hash: the same URI rewritten with new content is a new
-- artifact. md5 is DVC's (a file's md5, or '<md5>.dir' for a folder); NULL when the job
-- reported none.
CREATE TABLE artifacts (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    uri        text NOT NULL CHECK (length(uri) <= 4096),
    md5        text,
    size       bigint,
    nfiles     integer,
    kind       text NOT NULL DEFAULT 'file' CHECK (kind ~ '^[a-z][a-z0-9_-]{0,31}$'),
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE NULLS NOT DISTINCT (uri, md5)
);
-- "Every run that read this dataset hash".
CREATE INDEX artifacts_md5 ON artifacts (md5) WHERE md5 IS NOT NULL;

-- Outputs now point at artifacts; what 0002 stored inline moves there.
ALTER TABLE attempt_outputs ADD COLUMN artifact_id bigint REFERENCES artifacts (id);
INSERT INTO artifacts (uri, md5, size, nfiles, kind)
SELECT DISTINCT ON (uri, md5) uri, md5, size, nfiles,
       CASE WHEN md5 LIKE '%.dir' OR nfiles IS NOT NULL THEN 'directory' ELSE 'file' END
FROM attempt_outputs
ON CONFLICT DO NOTHING;
UPDATE attempt_outputs o SET artifact_id = a.id
FROM artifacts a WHERE a.uri = o.uri AND a.md5 IS NOT DISTINCT FROM o.md5;
ALTER TABLE attempt_outputs ALTER COLUMN artifact_id SET NOT NULL;
ALTER TABLE attempt_outputs DROP COLUMN uri, DROP COLUMN md5, DROP COLUMN size, DROP COLUMN nfiles;

-- What an attempt read: one row per declared input, pointing at the upstream output.
CREATE TABLE attempt_inputs (
    attempt_id  uuid NOT NULL REFERENCES stage_attempts (id) ON DELETE CASCADE,
    name        text NOT NULL,
    artifact_id bigint NOT NULL REFERENCES artifacts (id),
    PRIMARY KEY (attempt_id, name)
);

-- Graph traversal walks artifact -> producing attempt -> its inputs (upstream) and artifact ->
-- reading attempts -> their outputs (downstream); each hop is an index-only scan.
CREATE INDEX attempt_outputs_by_artifact ON attempt_outputs (artifact_id, attempt_id);
CREATE INDEX attempt_outputs_by_attempt ON attempt_outputs (attempt_id) INCLUDE (artifact_id);
CREATE INDEX attempt_inputs_by_artifact ON attempt_inputs (artifact_id, attempt_id);
CREATE INDEX attempt_inputs_by_attempt ON attempt_inputs (attempt_id) INCLUDE (artifact_id);

-- The params an attempt ran with: the run's params merged with the stage's.
CREATE TABLE attempt_params (
    attempt_id uuid NOT NULL REFERENCES stage_attempts (id) ON DELETE CASCADE,
    key        text NOT NULL,
    value      jsonb NOT NULL,
    PRIMARY KEY (attempt_id, key)
);

-- What an attempt ran: the digest of its code (the working_dir package, or the entrypoint
-- alone), the resources it reserved (GPU-seconds for audits), the ingredients of its
-- fingerprint (so `baton cache explain` can name the one that changed), and, for a cache
-- hit, the attempt whose outputs it reused.
ALTER TABLE stage_attempts ADD COLUMN code_digest text;
ALTER TABLE stage_attempts ADD COLUMN num_cpus double precision NOT NULL DEFAULT 0;
ALTER TABLE stage_attempts ADD COLUMN num_gpus double precision NOT NULL DEFAULT 0;
ALTER TABLE stage_attempts ADD COLUMN fingerprint_ingredients jsonb;
ALTER TABLE stage_attempts ADD COLUMN cached_from uuid REFERENCES stage_attempts (id);
-- Why the cache did or did not serve the attempt, in words, as decided at the time.
ALTER TABLE stage_attempts ADD COLUMN cache_decision text;
-- The cache lookup: the newest original (not itself cached) success with a fingerprint.
CREATE INDEX stage_attempts_cache ON stage_attempts (fingerprint, finished_at DESC)
    WHERE state = 'succeeded' AND cached_from IS NULL AND fingerprint IS NOT NULL;

-- Per stage of a run: never serve it from the cache (`submit --no-cache`, or `runs retry
-- --from` for the stage and everything downstream of it), or reuse a given attempt's
-- outputs without running (`runs retry --from` for the stages upstream).
ALTER TABLE stages ADD COLUMN cache_disabled boolean NOT NULL DEFAULT false;
ALTER TABLE stages ADD COLUMN reuse_attempt_id uuid REFERENCES stage_attempts (id);

-- A run made by `baton runs retry RUN --from STAGE`.
ALTER TABLE runs ADD COLUMN retry_of uuid REFERENCES runs (id);
ALTER TABLE runs ADD COLUMN retry_from text;
