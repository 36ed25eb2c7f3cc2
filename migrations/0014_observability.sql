-- Observability: the sweeper counts the running runs (and the stalled ones among them) every few
-- seconds for /metrics; this index keeps that read small however long the history grows.
CREATE INDEX runs_running ON runs (created_at) WHERE state = 'running';
