-- Identity mappings: roles granted for a source (a group, or a value of the
-- user's SCIM `roles` attribute), and where each role of a user comes from.

CREATE TABLE role_mappings (
    id            TEXT PRIMARY KEY,
    group_id      TEXT REFERENCES groups (id),   -- a group source, or
    scim_role     TEXT,                          -- a SCIM roles value, as given
    scim_role_key TEXT,                          -- that value, lower-cased
    role_name     TEXT NOT NULL REFERENCES roles (name),
    created_at    BIGINT NOT NULL,
    created_by    TEXT NOT NULL,
    CHECK ((group_id IS NULL) <> (scim_role_key IS NULL))
);

CREATE UNIQUE INDEX role_mappings_group ON role_mappings (group_id, role_name)
    WHERE group_id IS NOT NULL;
CREATE UNIQUE INDEX role_mappings_scim_role ON role_mappings (scim_role_key, role_name)
    WHERE scim_role_key IS NOT NULL;
CREATE INDEX role_mappings_role ON role_mappings (role_name);

-- One row per role and source: 'default' (the default role at provisioning
-- or reactivation), 'manual' (an operator), or 'mapping:<mapping id>'.
-- A user holds a role while any of its grants exists.
CREATE TABLE role_grants (
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role_name  TEXT NOT NULL REFERENCES roles (name),
    source     TEXT NOT NULL,
    granted_at BIGINT NOT NULL,
    granted_by TEXT,                 -- the granting key's id, or 'system'; NULL from before grants were recorded
    PRIMARY KEY (user_id, role_name, source)
);

CREATE INDEX role_grants_role ON role_grants (role_name);
CREATE INDEX role_grants_source ON role_grants (source);

-- Roles held before: the default role of a SCIM user counts as given for
-- being provisioned, anything else as given by hand.
INSERT INTO role_grants (user_id, role_name, source, granted_at, granted_by)
SELECT ur.user_id, ur.role_name,
       CASE WHEN u.origin = 'scim' AND ur.role_name = s.default_role THEN 'default' ELSE 'manual' END,
       u.created_at, NULL
FROM user_roles ur
JOIN users u ON u.id = ur.user_id
CROSS JOIN settings s
WHERE s.id = 1;

DROP TABLE user_roles;

CREATE VIEW user_roles AS SELECT DISTINCT user_id, role_name FROM role_grants;

-- How each membership came: pushed over SCIM, or made by hand.
ALTER TABLE group_members ADD COLUMN via TEXT NOT NULL DEFAULT 'scim';
ALTER TABLE group_members ADD COLUMN added_at BIGINT;
ALTER TABLE group_members ADD COLUMN added_by TEXT;

UPDATE group_members SET via = 'manual'
WHERE user_id IN (SELECT id FROM users WHERE origin = 'manual');
