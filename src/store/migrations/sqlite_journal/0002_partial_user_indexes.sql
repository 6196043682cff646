-- Index only the exchanges that are about a user. A read by filter, a
-- listing or a group request has none, and its NULLs in two indexes cost
-- every append without ever being looked up; `user_id = ?` implies
-- `user_id IS NOT NULL`, so `scim log --user` still uses them. Postgres:
-- migration 0010.

DROP INDEX scim_journal_user;
DROP INDEX scim_journal_user_name;
CREATE INDEX scim_journal_user ON scim_journal (user_id) WHERE user_id IS NOT NULL;
CREATE INDEX scim_journal_user_name ON scim_journal (user_name_key) WHERE user_name_key IS NOT NULL;
