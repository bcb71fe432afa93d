-- Claim-ahead: a worker claims a few jobs beyond its free slots and keeps them in a local
-- buffer, so a slot that frees starts the next job without a round trip. Such a job is
-- `running` under the worker's lease but not started: its attempt is counted when it starts
-- (or when its completion is written), and releasing it or rescuing it after its lease
-- expired returns it to `available` without counting an attempt or recording an error.
ALTER TABLE jobs ADD COLUMN claimed_ahead BOOLEAN NOT NULL DEFAULT FALSE;
