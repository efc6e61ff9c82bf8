ALTER TABLE log_state DROP COLUMN tree_size;
DROP TABLE merkle_tile_tails;
DROP TRIGGER merkle_tiles_no_delete;
DROP TRIGGER merkle_tiles_no_update;
DROP TABLE merkle_tiles;
