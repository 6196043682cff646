-- Nothing to do here: on SQLite the SCIM request journal has a database
-- file of its own (0009), whose migration 0002 makes this change. This file
-- keeps both backends' migrations numbered alike.
SELECT 1;
