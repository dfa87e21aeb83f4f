-- The subjects of recent ledger events, in append order. An append writes here (at the end of a
-- table ordered by insertion) instead of into ledger_subjects, whose (customer_id, seq) key puts
-- every new row at a random place and so cost a page write per event. The ledger writer moves
-- these rows into ledger_subjects in large batches; a query for a customer reads both tables.
CREATE TABLE ledger_subjects_recent (
    seq         INTEGER NOT NULL,
    customer_id TEXT NOT NULL
);
