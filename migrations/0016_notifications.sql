-- Notifications of a pipeline's events (`notify:`): one row per event and target, written
-- before the target is called, so a target hears of an event at most once however often the
-- event is delivered to the notifier.
CREATE TABLE notifications (
    event_id     text NOT NULL,
    target       text NOT NULL,
    run_id       uuid NOT NULL,
    event_type   text NOT NULL,
    state        text NOT NULL CHECK (state IN ('sending', 'delivered', 'failed')),
    attempts     integer NOT NULL DEFAULT 0,
    error        text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    delivered_at timestamptz,
    PRIMARY KEY (event_id, target)
);
CREATE INDEX notifications_run ON notifications (run_id);
