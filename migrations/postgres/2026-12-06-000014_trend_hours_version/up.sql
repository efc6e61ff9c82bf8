-- Which state of a cell's hours (trend_hours) the cell's row goes with: a
-- fresh random value, never 0 once it has had hours, set in the same
-- transaction as every change to them (src/db/trend_summary.rs). A reader
-- that read a cell's hours at one value need not read them again while the
-- value is the same.
ALTER TABLE trend_cells ADD COLUMN hours_version BIGINT NOT NULL DEFAULT 0;
UPDATE trend_cells SET hours_version = 1 + floor(random() * 4611686018427387903)::bigint;
