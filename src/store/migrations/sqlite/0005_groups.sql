-- One noun for an IdP group: the tables the code calls groups were named
-- teams. Renamed in place, so every row, key and reference stays; SQLite
-- rewrites the foreign key in group_members itself.

ALTER TABLE teams RENAME TO groups;
ALTER TABLE team_members RENAME TO group_members;
ALTER TABLE group_members RENAME COLUMN team_id TO group_id;

DROP INDEX teams_external_id;
CREATE INDEX groups_external_id ON groups (external_id);
DROP INDEX team_members_user;
CREATE INDEX group_members_user ON group_members (user_id);
