-- tlog-tiles (C2SP tlog-tiles v0.1.0): the tree as the sequencer stores it.
-- Full tiles of 256 hashes, written once; the right edge of every level (its
-- partial tile) rewritten by each round; and the size they describe. Proofs
-- and roots are computed from these, so no instance holds the tree in memory.
CREATE TABLE merkle_tiles (
    level INTEGER NOT NULL,
    tile_index BIGINT NOT NULL,
    hashes BLOB NOT NULL CHECK (length(hashes) = 8192),
    PRIMARY KEY (level, tile_index)
);
CREATE TRIGGER merkle_tiles_no_update BEFORE UPDATE ON merkle_tiles
BEGIN SELECT RAISE(ABORT, 'merkle_tiles is append-only'); END;
CREATE TRIGGER merkle_tiles_no_delete BEFORE DELETE ON merkle_tiles
BEGIN SELECT RAISE(ABORT, 'merkle_tiles is append-only'); END;

CREATE TABLE merkle_tile_tails (
    level INTEGER PRIMARY KEY NOT NULL,
    tile_index BIGINT NOT NULL,
    hashes BLOB NOT NULL CHECK (length(hashes) < 8192 AND length(hashes) % 32 = 0)
);

-- Leaves already in the tiles (start-up builds tiles for older leaves).
ALTER TABLE log_state ADD COLUMN tree_size BIGINT NOT NULL DEFAULT 0;
