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

CREATE FUNCTION bump_config_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE config_version SET version = version + 1 WHERE id = 1;
    RETURN NULL;
END
$$;

CREATE TRIGGER allowlist_bumps_config AFTER INSERT OR UPDATE OR DELETE ON allowlist
    FOR EACH STATEMENT EXECUTE FUNCTION bump_config_version();

CREATE TRIGGER settings_bumps_config AFTER INSERT OR UPDATE OR DELETE ON settings
    FOR EACH STATEMENT EXECUTE FUNCTION bump_config_version();
