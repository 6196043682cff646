-- The SCIM request journal's own SQLite database (`<database file>.scim-journal`):
-- every request to /scim/v2 and its answer, redacted, kept for a bounded
-- time and size. Written off the request path in batches by one writer; the
-- audit log, in the main database, is the record of changes. The same table
-- as PostgreSQL's (migration 0008 there).

CREATE TABLE scim_journal (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    at              BIGINT NOT NULL,
    request_id      TEXT NOT NULL,
    key_id          TEXT,            -- the key id the bearer token named, checked or not
    source_ip       TEXT,
    method          TEXT NOT NULL,
    path            TEXT NOT NULL,   -- as sent, with the query
    status          INTEGER NOT NULL,
    duration_us     BIGINT NOT NULL,
    user_id         TEXT,            -- the user the request was about, when known
    user_name_key   TEXT,
    request_headers TEXT NOT NULL,   -- JSON object of the few headers kept
    request_body    TEXT,
    response_body   TEXT,
    size            BIGINT NOT NULL  -- bytes this row holds, for the size cap
);

CREATE INDEX scim_journal_at ON scim_journal (at);
CREATE INDEX scim_journal_request ON scim_journal (request_id);
CREATE INDEX scim_journal_user ON scim_journal (user_id);
CREATE INDEX scim_journal_user_name ON scim_journal (user_name_key);
