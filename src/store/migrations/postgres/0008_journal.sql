-- The SCIM request journal: every request to /scim/v2 and its answer,
-- redacted, kept for a bounded time and size. Written off the request path
-- in batches; the audit log, not this, is the record of changes.

CREATE TABLE scim_journal (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
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

-- `scim show` lists the audit entries a request wrote.
CREATE INDEX audit_log_request ON audit_log (request_id);
