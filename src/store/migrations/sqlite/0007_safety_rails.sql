-- Safety rails (issue 10): protected accounts, SCIM deprovisionings held
-- instead of carried out, and the mass-deprovisioning circuit breaker. Each
-- in its own table, so the `users` row (and everything that builds one)
-- stays as it was.

-- A protected user: SCIM may update their attributes, never deprovision,
-- delete or demote them.
CREATE TABLE protected_users (
    user_id      TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    protected_at BIGINT NOT NULL,
    protected_by TEXT NOT NULL            -- the actor's name
);

-- A change the IdP asked for that was not carried out, and why: 'protected',
-- 'breaker' or 'last_admin'. action: 'deactivate', 'delete' or
-- 'revoke_role' (role_name and source say which grant).
CREATE TABLE held_changes (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    action     TEXT NOT NULL,
    role_name  TEXT,
    source     TEXT,
    reason     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    actor_name TEXT NOT NULL,
    request_id TEXT
);

CREATE INDEX held_changes_user ON held_changes (user_id);
CREATE INDEX held_changes_reason ON held_changes (reason, created_at);

-- One row: the breaker's thresholds and whether it is open. Its row lock
-- serialises every SCIM deprovisioning's decision, on every replica.
CREATE TABLE breaker (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    threshold      BIGINT NOT NULL,       -- users, in one window
    percent        BIGINT NOT NULL,       -- of active users, 1 to 100
    window_seconds BIGINT NOT NULL,
    opened_at      BIGINT                 -- NULL while closed
);

INSERT INTO breaker (id, threshold, percent, window_seconds, opened_at)
VALUES (1, 25, 10, 600, NULL);

-- The SCIM deprovisionings carried out, for the sliding window; rows older
-- than the window are pruned as new ones come.
CREATE TABLE breaker_events (
    id      TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    at      BIGINT NOT NULL
);

CREATE INDEX breaker_events_at ON breaker_events (at);
