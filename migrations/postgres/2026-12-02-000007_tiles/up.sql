-- tlog-tiles (C2SP tlog-tiles v0.1.0): the tree as the sequencer stores it.
-- Full tiles of 256 hashes, written once; the right edge of every level (its
-- partial tile) rewritten by each round; and the size they describe. Proofs
-- and roots are computed from these, so no instance holds the tree in memory.
CREATE TABLE merkle_tiles (
    level INTEGER NOT NULL,
    tile_index BIGINT NOT NULL,
    hashes BYTEA NOT NULL CHECK (length(hashes) = 8192),
    PRIMARY KEY (level, tile_index)
);
CREATE TRIGGER merkle_tiles_append_only BEFORE UPDATE OR DELETE ON merkle_tiles
    FOR EACH ROW EXECUTE FUNCTION closure_audit_append_only();
CREATE TRIGGER merkle_tiles_no_truncate BEFORE TRUNCATE ON merkle_tiles
    FOR EACH STATEMENT EXECUTE FUNCTION closure_audit_append_only();

CREATE TABLE merkle_tile_tails (
    level INTEGER PRIMARY KEY NOT NULL,
    tile_index BIGINT NOT NULL,
    hashes BYTEA NOT NULL CHECK (length(hashes) < 8192 AND length(hashes) % 32 = 0)
);

-- Leaves already in the tiles (start-up builds tiles for older leaves).
ALTER TABLE log_state ADD COLUMN tree_size BIGINT NOT NULL DEFAULT 0;
