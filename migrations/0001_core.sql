-- Baton core schema: pipelines, runs, stages, attempts, and the outbox/inbox that make
-- Kafka delivery exactly-once in effect.

-- Every legal state move, per entity; the trigger below refuses all others, so an
-- illegal transition cannot happen whatever the code does.
CREATE TABLE state_transitions (
    entity     text NOT NULL,
    from_state text NOT NULL,
    to_state   text NOT NULL,
    PRIMARY KEY (entity, from_state, to_state)
);

INSERT INTO state_transitions (entity, from_state, to_state) VALUES
    ('run', 'running', 'succeeded'),
    ('run', 'running', 'failed'),
    ('run', 'running', 'cancelled'),
    ('stage', 'pending', 'ready'),
    ('stage', 'pending', 'skipped'),
    ('stage', 'pending', 'cancelled'),
    ('stage', 'pending', 'failed'),
    ('stage', 'ready', 'running'),
    ('stage', 'ready', 'cancelled'),
    ('stage', 'running', 'succeeded'),
    ('stage', 'running', 'failed'),
    ('stage', 'running', 'ready'),
    ('stage', 'running', 'cancelled'),
    ('attempt', 'queued', 'running'),
    ('attempt', 'queued', 'cancelled'),
    ('attempt', 'running', 'succeeded'),
    ('attempt', 'running', 'failed'),
    ('attempt', 'running', 'timed_out'),
    ('attempt', 'running', 'cancelled'),
    ('attempt', 'running', 'lost');

CREATE FUNCTION baton_guard_transition() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.state IS DISTINCT FROM OLD.state AND NOT EXISTS (
        SELECT 1 FROM state_transitions t
        WHERE t.entity = TG_ARGV[0] AND t.from_state = OLD.state AND t.to_state = NEW.state
    ) THEN
        RAISE EXCEPTION 'illegal % transition: % -> %', TG_ARGV[0], OLD.state, NEW.state
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END
$$;

-- Versioned pipeline specs, as applied with `baton pipelines apply`.
CREATE TABLE pipelines (
    name        text NOT NULL,
    version     integer NOT NULL CHECK (version >= 1),
    spec_yaml   text NOT NULL,
    spec_sha256 text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (name, version),
    UNIQUE (name, spec_sha256)
);

CREATE TABLE runs (
    id               uuid PRIMARY KEY,
    pipeline_name    text NOT NULL,
    pipeline_version integer,
    spec_yaml        text NOT NULL,
    params           jsonb NOT NULL DEFAULT '{}',
    labels           jsonb NOT NULL DEFAULT '{}',
    state            text NOT NULL CHECK (state IN ('running', 'succeeded', 'failed', 'cancelled')),
    reason           text,
    idempotency_key  text UNIQUE,
    request_event_id text NOT NULL,
    requested_by     text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz
);
CREATE INDEX runs_created_at ON runs (created_at DESC);
CREATE TRIGGER runs_guard_transition BEFORE UPDATE OF state ON runs
    FOR EACH ROW EXECUTE FUNCTION baton_guard_transition('run');

CREATE TABLE stages (
    run_id      uuid NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    name        text NOT NULL,
    position    integer NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('ray', 'gate', 'register', 'rollout', 'noop')),
    pool        text NOT NULL,
    needs       text[] NOT NULL DEFAULT '{}',
    state       text NOT NULL CHECK (state IN ('pending', 'ready', 'running', 'succeeded', 'failed', 'skipped', 'cancelled')),
    attempts    integer NOT NULL DEFAULT 0,
    reason      text,
    started_at  timestamptz,
    finished_at timestamptz,
    PRIMARY KEY (run_id, name)
);
CREATE TRIGGER stages_guard_transition BEFORE UPDATE OF state ON stages
    FOR EACH ROW EXECUTE FUNCTION baton_guard_transition('stage');

-- One row per try of a stage. A worker owns a running attempt through its lease; every
-- write it makes names the lease epoch it holds, so a worker whose lease was taken over
-- (epoch bumped) can no longer write.
CREATE TABLE stage_attempts (
    id               uuid PRIMARY KEY,
    run_id           uuid NOT NULL,
    stage            text NOT NULL,
    attempt          integer NOT NULL CHECK (attempt >= 1),
    state            text NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'timed_out', 'cancelled', 'lost')),
    pool             text NOT NULL,
    lease_owner      text,
    lease_expires_at timestamptz,
    lease_epoch      bigint NOT NULL DEFAULT 0,
    fingerprint      text,
    timeout_ms       bigint NOT NULL CHECK (timeout_ms > 0),
    available_at     timestamptz NOT NULL DEFAULT now(),
    queued_at        timestamptz NOT NULL DEFAULT now(),
    redriven_at      timestamptz,
    started_at       timestamptz,
    deadline_at      timestamptz,
    finished_at      timestamptz,
    executions       integer NOT NULL DEFAULT 0,
    error            text,
    error_type       text,
    UNIQUE (run_id, stage, attempt),
    FOREIGN KEY (run_id, stage) REFERENCES stages (run_id, name) ON DELETE CASCADE
);
CREATE INDEX stage_attempts_running ON stage_attempts (lease_expires_at) WHERE state = 'running';
CREATE INDEX stage_attempts_queued ON stage_attempts (available_at) WHERE state = 'queued';
CREATE INDEX stage_attempts_ended ON stage_attempts (finished_at)
    WHERE state IN ('succeeded', 'failed', 'timed_out', 'lost');
CREATE TRIGGER stage_attempts_guard_transition BEFORE UPDATE OF state ON stage_attempts
    FOR EACH ROW EXECUTE FUNCTION baton_guard_transition('attempt');

-- Events written in the same transaction as the state they announce; the relay
-- publishes them (not before available_at, which is how retries back off).
CREATE TABLE outbox (
    id           bigserial PRIMARY KEY,
    event_id     text NOT NULL UNIQUE,
    event_type   text NOT NULL,
    source       text NOT NULL,
    subject      text,
    topic        text NOT NULL,
    key          text,
    payload      bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    available_at timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX outbox_pending ON outbox (available_at, id) WHERE published_at IS NULL;
CREATE INDEX outbox_published_at ON outbox (published_at) WHERE published_at IS NOT NULL;

CREATE FUNCTION baton_outbox_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('baton_outbox', '');
    RETURN NULL;
END
$$;
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION baton_outbox_notify();

-- Events a consumer has already acted on: (consumer, event id) is the dedupe key.
CREATE TABLE inbox (
    consumer     text NOT NULL,
    event_id     text NOT NULL,
    event_type   text NOT NULL,
    run_id       uuid,
    outcome      text NOT NULL CHECK (outcome IN ('applied', 'rejected', 'ignored')),
    reason       text,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
CREATE INDEX inbox_run ON inbox (run_id);
CREATE INDEX inbox_processed_at ON inbox (processed_at);

-- Messages no consumer could handle, with where they came from.
CREATE TABLE dead_letters (
    id          bigserial PRIMARY KEY,
    consumer    text NOT NULL,
    topic       text NOT NULL,
    partition   integer NOT NULL,
    "offset"    bigint NOT NULL,
    key         bytea,
    payload     bytea NOT NULL,
    headers     jsonb NOT NULL DEFAULT '{}',
    error       text NOT NULL,
    attempts    integer NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (consumer, topic, partition, "offset")
);
