-- The IP allowlist. Every replica reads it on every request (no cache), so a
-- change takes effect everywhere at once; an empty table allows every address.

CREATE TABLE allowlist (
    cidr       TEXT PRIMARY KEY,        -- normalised network, e.g. 10.0.0.0/8, 2001:db8::/32
    note       TEXT,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL            -- the actor's name: a key name or `system`
);

-- One row, updated first by every change: it makes concurrent changes to the
-- list take turns on both backends (a row lock on PostgreSQL, the write lock
-- on SQLite), so the lockout guard always judges the list it is changing.
CREATE TABLE allowlist_version (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
);

INSERT INTO allowlist_version (id, version) VALUES (1, 0);
