DROP TABLE trend_versions;
