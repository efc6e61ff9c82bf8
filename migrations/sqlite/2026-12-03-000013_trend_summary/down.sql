DROP TABLE trend_hours;
DROP TABLE trend_cells;
