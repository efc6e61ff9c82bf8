-- A version of everything a trend table is computed from (closures, their
-- status and decisions, volumes). Each transaction that changes any of it adds
-- one to one of these counters, so their sum changes with every such commit;
-- a computed trend table is reused while the sum is what it was. Several rows
-- (shards) let concurrent writers add without waiting for each other.
CREATE TABLE trend_versions (
    shard INTEGER PRIMARY KEY NOT NULL,
    n BIGINT NOT NULL
);
INSERT INTO trend_versions (shard, n) VALUES
    (0, 0), (1, 0), (2, 0), (3, 0), (4, 0), (5, 0), (6, 0), (7, 0),
    (8, 0), (9, 0), (10, 0), (11, 0), (12, 0), (13, 0), (14, 0), (15, 0);
