ALTER TABLE log_state DROP COLUMN tree_size;
DROP TABLE merkle_tile_tails;
DROP TABLE merkle_tiles;
