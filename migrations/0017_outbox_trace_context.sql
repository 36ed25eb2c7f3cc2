-- The W3C trace context an event was written in (the span of the coordinator's or worker's
-- work on the run, when spans are exported): the relay's publish span is its child, so a
-- run's trace links each event to the work that caused it. NULL when no tracer was set up;
-- the relay then derives the run's trace context from the subject.
ALTER TABLE outbox ADD COLUMN traceparent text
    CHECK (traceparent IS NULL OR octet_length(traceparent) <= 128);
