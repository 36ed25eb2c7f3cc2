-- The sweeper publishes again a `pipeline.requested` that `baton submit` wrote to the outbox when
-- the coordinator has not handled it a while after its publication (a broker may have lost it).
-- It looks only at requests published within the last hour: this index keeps that a range scan
-- of recent requests, whatever the size of the outbox.
CREATE INDEX outbox_requests_published ON outbox (published_at)
    WHERE event_type = 'pipeline.requested' AND failed_at IS NULL;
