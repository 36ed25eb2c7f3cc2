-- An outbox row's created_at is the moment it was inserted (clock_timestamp(): the insert is
-- the last statement of its transaction, just before the commit), not its transaction's start:
-- the relay measures the commit-to-publish step of a hand-off from it (baton_handoff_hop_seconds,
-- hop="outbox_wait"), and a long transaction no longer makes its events look older than they are.
ALTER TABLE outbox ALTER COLUMN created_at SET DEFAULT clock_timestamp();
