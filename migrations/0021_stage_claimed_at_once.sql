-- A worker that ends an attempt and applies its outcome itself (the direct hand-off) claims the
-- next attempt of its pool in that same transaction: the attempt is inserted running, leased,
-- and its stage goes from pending to running at once, never visibly ready (no stage.ready event
-- is written for it: nobody else is to claim it).
INSERT INTO state_transitions (entity, from_state, to_state) VALUES ('stage', 'pending', 'running');
