-- Schedules (`kind: Schedule`): when to request runs of a pipeline. The coordinators fire due
-- ticks: each tick is a row of schedule_ticks (primary key schedule + tick) written in the same
-- transaction as its run request, so a tick makes one run however many coordinators run and
-- however often they restart.
CREATE TABLE schedules (
    name       text PRIMARY KEY,
    pipeline   text NOT NULL,
    spec_yaml  text NOT NULL,
    paused     boolean NOT NULL DEFAULT false,
    -- The next tick to fire; null when the cron names no time within five years.
    next_tick  timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX schedules_due ON schedules (next_tick) WHERE NOT paused;

CREATE TABLE schedule_ticks (
    schedule text NOT NULL REFERENCES schedules (name) ON DELETE CASCADE,
    tick     timestamptz NOT NULL,
    outcome  text NOT NULL
        CHECK (outcome IN ('requested', 'skipped_running', 'skipped_deadline', 'refused')),
    manual   boolean NOT NULL DEFAULT false,
    run_id   uuid,
    reason   text,
    fired_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (schedule, tick)
);
CREATE INDEX schedule_ticks_recent ON schedule_ticks (schedule, fired_at DESC);
