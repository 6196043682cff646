-- The SCIM request journal moves out of this database into a file of its
-- own beside it (`<database file>.scim-journal`, created at start-up with
-- its own schema): appending to it took this database's one writer
-- connection away from SCIM writes, a quarter of their throughput. It is a
-- log, never read in a change's transaction, so nothing needs it here.
--
-- The exchanges journaled before this upgrade are dropped, not moved: the
-- journal shipped in no release before this migration, and it is a
-- troubleshooting log kept for days, not the record of changes (that is
-- the audit log, untouched).

DROP TABLE scim_journal;
