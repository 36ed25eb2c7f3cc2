-- The front door: requests accepted by the HTTP API (and `baton submit`), API tokens, the audit
-- log of every state change made over HTTP, and each run's history of events for live progress.

-- A request accepted before the coordinator has seen it, written in the same transaction as its
-- `pipeline.requested` outbox row: the API answers 202 with this run id, and the same
-- Idempotency-Key gets the same run id back (a different body under one key is refused).
CREATE TABLE run_requests (
    run_id          uuid PRIMARY KEY,
    event_id        text NOT NULL UNIQUE,
    event_source    text NOT NULL,
    idempotency_key text UNIQUE,
    body_sha256     text NOT NULL,
    requested_by    text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX run_requests_created_at ON run_requests (created_at);

-- API tokens: only the SHA-256 of the secret is kept (tokens are 256 random bits, so a plain
-- digest is as strong as a slow hash). A revoked or expired token is refused.
CREATE TABLE api_tokens (
    id            uuid PRIMARY KEY,
    name          text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$'),
    secret_sha256 text NOT NULL UNIQUE,
    scopes        text[] NOT NULL,
    created_by    text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz,
    revoked_at    timestamptz,
    last_used_at  timestamptz
);
CREATE UNIQUE INDEX api_tokens_live_name ON api_tokens (name) WHERE revoked_at IS NULL;

-- Who changed what over the API (and with which token), when, and how it ended.
CREATE TABLE audit_log (
    id         bigserial PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT now(),
    actor      text NOT NULL,
    token_id   uuid,
    action     text NOT NULL,
    target     text,
    outcome    text NOT NULL,
    detail     jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_at ON audit_log (at DESC);
CREATE INDEX audit_log_target ON audit_log (target, at DESC);

-- Every event about a run, numbered 1, 2, 3... in commit order per run: the live stream
-- (`GET /v1/runs/{id}/events`) resumes after a Last-Event-ID without a gap. The number comes
-- from the run's row, updated in the event's own transaction, so two transactions of one run
-- take their numbers in the order they commit.
ALTER TABLE runs ADD COLUMN history_length integer NOT NULL DEFAULT 0;
CREATE TABLE run_history (
    run_id      uuid NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    seq         integer NOT NULL,
    event_id    text NOT NULL,
    event_type  text NOT NULL,
    subject     text,
    payload     bytea NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (run_id, seq)
);

CREATE FUNCTION baton_record_run_history() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    position integer;
BEGIN
    IF NEW.event_type = 'pipeline.requested' OR NEW.key IS NULL
        OR NEW.key !~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
        RETURN NULL;
    END IF;
    UPDATE runs SET history_length = history_length + 1 WHERE id = NEW.key::uuid
        RETURNING history_length INTO position;
    IF FOUND THEN
        INSERT INTO run_history (run_id, seq, event_id, event_type, subject, payload)
        VALUES (NEW.key::uuid, position, NEW.event_id, NEW.event_type, NEW.subject, NEW.payload);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER outbox_run_history AFTER INSERT ON outbox
    FOR EACH ROW EXECUTE FUNCTION baton_record_run_history();
