-- Every message, outbox row and queued attempt reaches an end (issue "never stall").

-- CloudEvents identify an event by source + id, so from now on inbox.event_id holds
-- '<source> <id>' (two producers that both count from 1 no longer dedupe each other's events).

-- Dead letters keep a bounded payload with the original's size and SHA-256, and where the
-- request can be matched (ce_id) by `baton submit --wait`. A broker that lost its data reuses
-- offsets, so (topic, partition, offset) no longer identifies a message: the record's timestamp
-- and digest are part of the identity.
ALTER TABLE dead_letters DROP CONSTRAINT dead_letters_consumer_topic_partition_offset_key;
ALTER TABLE dead_letters
    ADD COLUMN payload_size   bigint,
    ADD COLUMN payload_sha256 text,
    ADD COLUMN record_time    timestamptz,
    ADD COLUMN event_id       text,
    ADD COLUMN replayed_at    timestamptz,
    ADD COLUMN replays        integer NOT NULL DEFAULT 0,
    ADD COLUMN discarded_at   timestamptz;
UPDATE dead_letters SET payload_size = length(payload), payload_sha256 = encode(sha256(payload), 'hex');
ALTER TABLE dead_letters
    ALTER COLUMN payload_size SET NOT NULL,
    ALTER COLUMN payload_sha256 SET NOT NULL;
CREATE UNIQUE INDEX dead_letters_message ON dead_letters
    (consumer, topic, partition, "offset", payload_sha256, record_time) NULLS NOT DISTINCT;
CREATE INDEX dead_letters_event ON dead_letters (event_id) WHERE event_id IS NOT NULL;
CREATE INDEX dead_letters_open ON dead_letters (created_at) WHERE discarded_at IS NULL;

-- Who replayed or discarded which dead letter, and when.
CREATE TABLE dead_letter_actions (
    id             bigserial PRIMARY KEY,
    dead_letter_id bigint NOT NULL REFERENCES dead_letters (id) ON DELETE CASCADE,
    action         text NOT NULL CHECK (action IN ('replayed', 'discarded')),
    actor          text NOT NULL,
    detail         text,
    at             timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX dead_letter_actions_letter ON dead_letter_actions (dead_letter_id);

-- An outbox row the broker refuses for good (too large, unknown topic, denied) is parked with
-- its error instead of blocking the rows behind it; `baton outbox retry` un-parks it.
ALTER TABLE outbox
    ADD COLUMN failed_at timestamptz,
    ADD COLUMN error     text;
DROP INDEX outbox_pending;
CREATE INDEX outbox_pending ON outbox (available_at, id) WHERE published_at IS NULL AND failed_at IS NULL;
CREATE INDEX outbox_failed ON outbox (failed_at) WHERE failed_at IS NOT NULL AND published_at IS NULL;

-- Stage workers say which pools they serve, so the sweeper can fail an attempt that waits in
-- a pool no live worker serves ("no worker for pool gpu") instead of leaving it queued forever.
CREATE TABLE worker_heartbeats (
    instance text NOT NULL,
    pool     text NOT NULL,
    seen_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (instance, pool)
);
CREATE INDEX worker_heartbeats_pool ON worker_heartbeats (pool, seen_at);

-- Such an attempt ends while still queued, and its stage fails without having run.
INSERT INTO state_transitions (entity, from_state, to_state) VALUES
    ('attempt', 'queued', 'failed'),
    ('stage', 'ready', 'failed');
