-- Nothing on SQLite: one writer at a time, so events become visible in seq
-- order and a tailer can never skip one (see the PostgreSQL migration).
SELECT 1;
