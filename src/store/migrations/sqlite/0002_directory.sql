-- The directory: users, teams (SCIM groups), roles, settings, sessions, locks,
-- and personal API keys. Booleans are INTEGER 0/1 here (BOOLEAN on
-- PostgreSQL): sqlx's Any driver cannot decode SQLite's BOOLEAN type, and
-- `store::get_bool` reads either. Case-insensitive uniqueness is enforced on `*_key`
-- columns holding the lowercased value, computed by the application, so both
-- backends agree on what "the same name" means.

CREATE TABLE roles (
    name        TEXT PRIMARY KEY,
    permissions TEXT NOT NULL,          -- space-separated scope names
    builtin     INTEGER NOT NULL,
    created_at  BIGINT NOT NULL
);

INSERT INTO roles (name, permissions, builtin, created_at) VALUES
    ('admin', 'scim:provision users:read users:write users:deprovision groups:read keys:manage settings:manage allowlist:manage roles:manage audit:read sessions:issue sessions:introspect', 1, 0),
    ('provisioner', 'scim:provision', 1, 0),
    ('auditor', 'users:read groups:read audit:read', 1, 0),
    ('member', '', 1, 0);

-- One row: the settings every replica reads.
CREATE TABLE settings (
    id                  INTEGER PRIMARY KEY CHECK (id = 1),
    auto_provisioning   INTEGER NOT NULL,
    auto_deprovisioning INTEGER NOT NULL,
    default_role        TEXT NOT NULL REFERENCES roles (name)
);

INSERT INTO settings (id, auto_provisioning, auto_deprovisioning, default_role)
VALUES (1, 1, 1, 'member');

CREATE TABLE users (
    id                 TEXT PRIMARY KEY,
    user_name          TEXT NOT NULL,
    user_name_key      TEXT NOT NULL UNIQUE,
    external_id        TEXT,
    given_name         TEXT,
    family_name        TEXT,
    formatted_name     TEXT,
    display_name       TEXT,
    active             INTEGER NOT NULL,
    origin             TEXT NOT NULL,        -- 'scim' or 'manual'
    attributes         TEXT NOT NULL,        -- JSON: every other attribute, as sent
    version            BIGINT NOT NULL,      -- bumped on every change; the ETag
    deprovision_state  TEXT NOT NULL,        -- 'none', 'pending' or 'done'
    deprovisioned_at   BIGINT,
    deleted_at         BIGINT,               -- SCIM DELETE keeps a tombstone
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL
);

CREATE INDEX users_external_id ON users (external_id);
CREATE INDEX users_state ON users (deprovision_state, active);
CREATE INDEX users_created ON users (created_at, id);

CREATE TABLE user_emails (
    user_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    position  BIGINT NOT NULL,
    value     TEXT NOT NULL,
    value_key TEXT NOT NULL,
    type      TEXT,
    is_primary INTEGER NOT NULL,
    PRIMARY KEY (user_id, position)
);

CREATE INDEX user_emails_value ON user_emails (value_key);

CREATE TABLE user_roles (
    user_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role_name TEXT NOT NULL REFERENCES roles (name),
    PRIMARY KEY (user_id, role_name)
);

CREATE INDEX user_roles_role ON user_roles (role_name);

CREATE TABLE teams (
    id               TEXT PRIMARY KEY,
    display_name     TEXT NOT NULL,
    display_name_key TEXT NOT NULL UNIQUE,
    external_id      TEXT,
    attributes       TEXT NOT NULL,
    version          BIGINT NOT NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);

CREATE INDEX teams_external_id ON teams (external_id);

CREATE TABLE team_members (
    team_id  TEXT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    user_id  TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (team_id, user_id)
);

CREATE INDEX team_members_user ON team_members (user_id);

CREATE TABLE sessions (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    secret_hash TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    created_by  TEXT,
    expires_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);

CREATE INDEX sessions_user ON sessions (user_id);

-- At most one lock per user: it blocks every credential until removed.
CREATE TABLE locks (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL UNIQUE REFERENCES users (id) ON DELETE CASCADE,
    reason     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL
);

-- A personal key belongs to a user and never outlives their access.
ALTER TABLE api_keys ADD COLUMN owner_user_id TEXT REFERENCES users (id) ON DELETE CASCADE;
CREATE INDEX api_keys_owner ON api_keys (owner_user_id);
