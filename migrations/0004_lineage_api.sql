-- The lineage API: functions and views that answer audits with plain SQL (docs/lineage.md).
--
-- The graph is bipartite: artifact -> attempt (attempt_inputs) and attempt -> artifact
-- (attempt_outputs). Closures walk it level by level (breadth first) with a visited set, so each
-- artifact is returned once, at its shortest distance, and the work is bounded by the node cap
-- rather than by the number of paths (a recursive CTE enumerates paths, which explodes on a wide
-- DAG with shared datasets).

-- A stage attempt with what an audit asks of it: where it ran, its code, its params, each
-- metric's last value, and the GPU-seconds it reserved (GPUs x Ray's run time of the job).
CREATE VIEW attempt_facts AS
SELECT a.id AS attempt_id, a.run_id, r.pipeline_name, r.pipeline_version, a.stage, a.attempt, a.state, a.kind,
       a.cached_from, a.code_digest, a.fingerprint, a.num_cpus, a.num_gpus,
       a.started_at, a.finished_at, a.ray_started_at, a.ray_ended_at,
       a.num_gpus * coalesce(extract(epoch FROM a.ray_ended_at - a.ray_started_at)::float8, 0) AS gpu_seconds,
       coalesce((SELECT jsonb_object_agg(p.key, p.value) FROM attempt_params p WHERE p.attempt_id = a.id),
                '{}') AS params,
       coalesce((SELECT jsonb_object_agg(m.key, m.value)
                 FROM (SELECT DISTINCT ON (key) key, value FROM attempt_metrics
                       WHERE attempt_id = a.id ORDER BY key, step DESC) m),
                '{}') AS metrics
FROM stage_attempts a JOIN runs r ON r.id = a.run_id;

-- Every edge of the graph as (artifact, attempt, direction): 'in' = the attempt read the
-- artifact, 'out' = the attempt produced it.
CREATE VIEW lineage_edges AS
SELECT artifact_id, attempt_id, name, 'in'::text AS direction FROM attempt_inputs
UNION ALL
SELECT artifact_id, attempt_id, name, 'out'::text FROM attempt_outputs;

-- The artifacts upstream (what it was made from) or downstream (what was made from it) of one
-- artifact, the artifact itself included at depth 0. Depth counts attempts crossed. Each
-- artifact appears once, at its least depth; at most max_nodes rows (the cut is made within the
-- last level reached, lowest ids first), at most max_depth levels.
CREATE FUNCTION lineage_closure(artifact bigint, upstream boolean, max_depth int, max_nodes int)
RETURNS TABLE (artifact_id bigint, depth int)
LANGUAGE plpgsql STABLE
-- Each level is planned for its own arrays (a generic plan guesses their sizes), and never
-- JIT-compiled: the estimates of a wide level pass JIT's threshold, and compiling costs more
-- than the level.
SET plan_cache_mode = force_custom_plan SET jit = off
AS $$
DECLARE
    visited bigint[];
    frontier bigint[];
    level int := 0;
BEGIN
    IF max_depth IS NULL OR max_depth < 0 OR max_depth > 1000 THEN
        RAISE EXCEPTION 'max_depth must be between 0 and 1000, not %', max_depth
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF max_nodes IS NULL OR max_nodes < 1 OR max_nodes > 1000000 THEN
        RAISE EXCEPTION 'max_nodes must be between 1 and 1000000, not %', max_nodes
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM artifacts a WHERE a.id = artifact) THEN
        RETURN;
    END IF;
    visited := ARRAY[artifact];
    frontier := visited;
    artifact_id := artifact;
    depth := 0;
    RETURN NEXT;
    WHILE level < max_depth AND cardinality(frontier) > 0 AND cardinality(visited) < max_nodes LOOP
        level := level + 1;
        -- Each hop is an index lookup per artifact of the level (the OFFSET 0 fences keep the
        -- planner from turning them into a join over whole tables, which it picks when a skewed
        -- column such as a popular dataset's reads misleads its estimates). The anti join against
        -- unnest(visited) is a hash anti join: linear in the level, where `<> ALL(visited)` would
        -- compare every candidate with every visited id. The level is computed whole and cut
        -- afterwards: a LIMIT invites a plan that walks an index in order hoping to stop early.
        IF upstream THEN
            frontier := ARRAY(
                SELECT DISTINCT n.id
                FROM unnest(frontier) f (id)
                CROSS JOIN LATERAL (SELECT o.attempt_id FROM attempt_outputs o
                                    WHERE o.artifact_id = f.id OFFSET 0) e
                CROSS JOIN LATERAL (SELECT i.artifact_id AS id FROM attempt_inputs i
                                    WHERE i.attempt_id = e.attempt_id OFFSET 0) n
                WHERE NOT EXISTS (SELECT 1 FROM unnest(visited) v (id) WHERE v.id = n.id)
                ORDER BY 1);
        ELSE
            frontier := ARRAY(
                SELECT DISTINCT n.id
                FROM unnest(frontier) f (id)
                CROSS JOIN LATERAL (SELECT i.attempt_id FROM attempt_inputs i
                                    WHERE i.artifact_id = f.id OFFSET 0) e
                CROSS JOIN LATERAL (SELECT o.artifact_id AS id FROM attempt_outputs o
                                    WHERE o.attempt_id = e.attempt_id OFFSET 0) n
                WHERE NOT EXISTS (SELECT 1 FROM unnest(visited) v (id) WHERE v.id = n.id)
                ORDER BY 1);
        END IF;
        frontier := frontier[1:max_nodes - cardinality(visited)];
        visited := visited || frontier;
        RETURN QUERY SELECT f.id, level FROM unnest(frontier) f (id);
    END LOOP;
END
$$;

-- What an artifact was made from, transitively (itself at depth 0).
CREATE FUNCTION lineage_upstream(artifact bigint, max_depth int DEFAULT 20, max_nodes int DEFAULT 10000)
RETURNS TABLE (artifact_id bigint, depth int)
LANGUAGE sql STABLE AS $$
    SELECT * FROM lineage_closure(artifact, true, max_depth, max_nodes)
$$;

-- What was made from an artifact, transitively (itself at depth 0).
CREATE FUNCTION lineage_downstream(artifact bigint, max_depth int DEFAULT 20, max_nodes int DEFAULT 10000)
RETURNS TABLE (artifact_id bigint, depth int)
LANGUAGE sql STABLE AS $$
    SELECT * FROM lineage_closure(artifact, false, max_depth, max_nodes)
$$;

-- Every stage attempt upstream of an artifact (its producer included, at depth 1), with its
-- facts. A cache hit counts as the attempt whose outputs it reused: that attempt is listed (once,
-- however many hits reused it) and the hits are named in reused_by, so GPU-seconds are those
-- actually spent.
CREATE FUNCTION lineage_attempts(artifact bigint, max_depth int DEFAULT 20, max_nodes int DEFAULT 10000)
RETURNS TABLE (attempt_id uuid, depth int, reused_by uuid[], run_id uuid, pipeline_name text, stage text,
               attempt int, state text, kind text, code_digest text, num_gpus float8, gpu_seconds float8,
               params jsonb, metrics jsonb)
LANGUAGE sql STABLE AS $$
    WITH producers AS (
        SELECT coalesce(a.cached_from, a.id) AS original, min(c.depth) + 1 AS depth,
               array_agg(DISTINCT a.id ORDER BY a.id) FILTER (WHERE a.cached_from IS NOT NULL) AS reused_by
        FROM lineage_upstream(artifact, max_depth, max_nodes) c
        JOIN attempt_outputs o ON o.artifact_id = c.artifact_id
        JOIN stage_attempts a ON a.id = o.attempt_id
        GROUP BY 1
    )
    SELECT f.attempt_id, p.depth, coalesce(p.reused_by, '{}'), f.run_id, f.pipeline_name, f.stage, f.attempt,
           f.state, f.kind, f.code_digest, f.num_gpus, f.gpu_seconds, f.params, f.metrics
    FROM producers p JOIN attempt_facts f ON f.attempt_id = p.original
    ORDER BY p.depth, f.stage, f.attempt_id
$$;

-- The datasets an artifact was made from: upstream artifacts that no attempt produced (they came
-- from outside Baton), or that a job declared of kind 'dataset'.
CREATE FUNCTION lineage_datasets(artifact bigint, max_depth int DEFAULT 20, max_nodes int DEFAULT 10000)
RETURNS TABLE (artifact_id bigint, depth int, uri text, md5 text, size bigint, nfiles int, kind text)
LANGUAGE sql STABLE AS $$
    SELECT a.id, c.depth, a.uri, a.md5, a.size, a.nfiles, a.kind
    FROM lineage_upstream(artifact, max_depth, max_nodes) c JOIN artifacts a ON a.id = c.artifact_id
    WHERE a.kind = 'dataset' OR NOT EXISTS (SELECT 1 FROM attempt_outputs o WHERE o.artifact_id = a.id)
    ORDER BY c.depth, a.id
$$;

-- The full provenance of an artifact (a model) as one JSON document: the artifact, its root
-- datasets, every upstream stage attempt with code digest, params and metrics, and the total
-- GPU-seconds. NULL when there is no such artifact.
CREATE FUNCTION lineage_provenance(artifact bigint, max_depth int DEFAULT 20, max_nodes int DEFAULT 10000)
RETURNS jsonb
LANGUAGE sql STABLE AS $$
    WITH attempts AS (SELECT * FROM lineage_attempts(artifact, max_depth, max_nodes))
    SELECT jsonb_build_object(
        'artifact', jsonb_build_object('id', a.id, 'uri', a.uri, 'md5', a.md5, 'size', a.size,
                                       'nfiles', a.nfiles, 'kind', a.kind),
        'datasets', coalesce((SELECT jsonb_agg(to_jsonb(d) ORDER BY d.depth, d.artifact_id)
                              FROM lineage_datasets(a.id, max_depth, max_nodes) d), '[]'),
        'attempts', coalesce((SELECT jsonb_agg(to_jsonb(s) ORDER BY s.depth, s.stage, s.attempt_id)
                              FROM attempts s), '[]'),
        'gpu_seconds', coalesce((SELECT sum(s.gpu_seconds) FROM attempts s), 0))
    FROM artifacts a WHERE a.id = artifact
$$;

-- A run's final outputs: what its succeeded attempts produced that no attempt of the same run
-- read (the outputs of its last stages).
CREATE FUNCTION run_final_outputs(run uuid)
RETURNS TABLE (artifact_id bigint, attempt_id uuid, stage text, name text)
LANGUAGE sql STABLE AS $$
    SELECT o.artifact_id, o.attempt_id, a.stage, o.name
    FROM stage_attempts a JOIN attempt_outputs o ON o.attempt_id = a.id
    WHERE a.run_id = run AND a.state = 'succeeded'
      AND NOT EXISTS (SELECT 1 FROM attempt_inputs i JOIN stage_attempts r ON r.id = i.attempt_id
                      WHERE i.artifact_id = o.artifact_id AND r.run_id = run)
    ORDER BY a.stage, o.name
$$;

-- Every read of an artifact with a given content hash (DVC md5, '<md5>.dir' for a folder),
-- whatever its URI: which run, pipeline and stage attempt read it, and as which input.
CREATE FUNCTION runs_reading(hash text)
RETURNS TABLE (run_id uuid, pipeline_name text, run_state text, run_created_at timestamptz, stage text,
               attempt_id uuid, input_name text, artifact_id bigint, uri text)
LANGUAGE sql STABLE AS $$
    SELECT r.id, r.pipeline_name, r.state, r.created_at, a.stage, a.id, i.name, f.id, f.uri
    FROM artifacts f
    JOIN attempt_inputs i ON i.artifact_id = f.id
    JOIN stage_attempts a ON a.id = i.attempt_id
    JOIN runs r ON r.id = a.run_id
    WHERE f.md5 = hash
    ORDER BY r.created_at, r.id, a.stage, i.name
$$;
