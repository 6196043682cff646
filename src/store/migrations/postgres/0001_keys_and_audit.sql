-- Times are unix milliseconds (UTC) in BIGINT columns and ids are TEXT, on
-- both backends, so every query is written once for the two of them.

CREATE TABLE server_state (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    scopes       TEXT NOT NULL,          -- space-separated scope names
    secret_hash  TEXT NOT NULL,          -- hex SHA-256 of the secret
    created_at   BIGINT NOT NULL,
    created_by   TEXT,
    expires_at   BIGINT,
    revoked_at   BIGINT,
    last_used_at BIGINT,
    last_used_ip TEXT
);

CREATE TABLE audit_log (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at           BIGINT NOT NULL,
    actor_key_id TEXT,
    actor_name   TEXT NOT NULL,
    source_ip    TEXT,
    request_id   TEXT,
    action       TEXT NOT NULL,
    target       TEXT,
    outcome      TEXT NOT NULL,
    details      TEXT NOT NULL           -- JSON object
);

CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_actor ON audit_log (actor_key_id, at);
CREATE INDEX audit_log_action ON audit_log (action, at);
CREATE INDEX audit_log_target ON audit_log (target, at);
