ALTER TABLE trend_cells DROP COLUMN hours_version;
