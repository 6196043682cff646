-- A counter bumped by every change to the allowlist or the settings, in the
-- same transaction, by triggers, so no writer can forget it (`server
-- recover` and hand-written SQL included). Each replica keeps both in
-- memory and reads this counter with every authentication, in the same
-- query as the key: a change anywhere is in force everywhere at once,
-- without reading the allowlist or the settings per request.

CREATE TABLE config_version (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
);

INSERT INTO config_version (id, version) VALUES (1, 0);

CREATE TRIGGER allowlist_insert_bumps_config AFTER INSERT ON allowlist
BEGIN UPDATE config_version SET version = version + 1 WHERE id = 1; END;

CREATE TRIGGER allowlist_update_bumps_config AFTER UPDATE ON allowlist
BEGIN UPDATE config_version SET version = version + 1 WHERE id = 1; END;

CREATE TRIGGER allowlist_delete_bumps_config AFTER DELETE ON allowlist
BEGIN UPDATE config_version SET version = version + 1 WHERE id = 1; END;

CREATE TRIGGER settings_update_bumps_config AFTER UPDATE ON settings
BEGIN UPDATE config_version SET version = version + 1 WHERE id = 1; END;
