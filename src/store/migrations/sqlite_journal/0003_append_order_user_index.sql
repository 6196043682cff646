-- Find a user's exchanges by scanning a narrow index in append order rather
-- than by seeking indexes keyed by user. Keyed by user, every append
-- inserted at a random place (user ids are random), which dirtied a page
-- of each index for nearly every row of a batch and doubled what an append
-- cost a row (10 µs, 5 without); in append order, a batch fills the last
-- pages. A scan of it reads a few dozen bytes a row: about 15 ms for
-- 300,000 exchanges. It holds every column `scim log` filters on, so the scan
-- never reads the table (`store::journal::list` names it with INDEXED BY).
-- PostgreSQL keeps its user indexes.

DROP INDEX scim_journal_user;
DROP INDEX scim_journal_user_name;
CREATE INDEX scim_journal_filtered ON scim_journal (id, user_id, user_name_key, status, at);
