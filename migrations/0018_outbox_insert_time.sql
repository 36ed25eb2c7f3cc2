-- An outbox row's created_at is the moment it was inserted (clock_timestamp(): the insert is
-- the last statement of its transaction, just before the commit), not its transaction's start:
-- the relay measures the commit-to-publish step of a hand-off from it (baton_handoff_hop_seconds,
-- hop="outbox_wait"), and a long transaction no longer makes its events look older than they are.
ALTER TABLE outbox ALTER COLUMN created_at SET DEFAULT clock_timestamp();

-- The relay's wake-up fires per inserted row, not per statement: a statement that inserts
-- nothing (a claim that claimed nothing, a fenced-out outcome: their INSERT ... SELECT finds no
-- row) no longer wakes the relay for an empty pass. pg_notify delivers one notification per
-- transaction for identical payloads, so a many-row insert still wakes it once.
DROP TRIGGER outbox_notify ON outbox;
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
    FOR EACH ROW EXECUTE FUNCTION baton_outbox_notify();
