-- One noun for an IdP group: the tables the code calls groups were named
-- teams. Renamed in place, so every row, key and reference stays.

ALTER TABLE teams RENAME TO groups;
ALTER TABLE team_members RENAME TO group_members;
ALTER TABLE group_members RENAME COLUMN team_id TO group_id;

ALTER INDEX teams_pkey RENAME TO groups_pkey;
ALTER INDEX teams_display_name_key_key RENAME TO groups_display_name_key_key;
ALTER INDEX teams_external_id RENAME TO groups_external_id;
ALTER INDEX team_members_pkey RENAME TO group_members_pkey;
ALTER INDEX team_members_user RENAME TO group_members_user;
ALTER TABLE group_members RENAME CONSTRAINT team_members_team_id_fkey TO group_members_group_id_fkey;
ALTER TABLE group_members RENAME CONSTRAINT team_members_user_id_fkey TO group_members_user_id_fkey;
