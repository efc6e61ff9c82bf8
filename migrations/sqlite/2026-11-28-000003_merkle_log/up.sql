-- The Merkle tree over the audit log. Leaves are in their own append-only table,
-- so that the event table is never updated, not even to note its leaf.
ALTER TABLE audit_events DROP COLUMN leaf_index;
ALTER TABLE audit_events DROP COLUMN leaf_hash;

CREATE TABLE merkle_leaves (
    leaf_index BIGINT PRIMARY KEY NOT NULL,
    seq BIGINT NOT NULL UNIQUE,
    leaf_hash TEXT NOT NULL
);

-- Every signed checkpoint, kept.
CREATE TABLE checkpoints (
    tree_size BIGINT PRIMARY KEY NOT NULL,
    root_hash TEXT NOT NULL,
    key_id TEXT NOT NULL,
    signature TEXT NOT NULL,
    note TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- The sequencer's progress (on PostgreSQL, the transaction-id watermark).
CREATE TABLE log_state (
    id INTEGER PRIMARY KEY NOT NULL,
    watermark BIGINT NOT NULL
);
INSERT INTO log_state (id, watermark) VALUES (1, 0);

-- The database itself refuses to change or remove what the log holds.
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;
CREATE TRIGGER merkle_leaves_no_update BEFORE UPDATE ON merkle_leaves
BEGIN SELECT RAISE(ABORT, 'merkle_leaves is append-only'); END;
CREATE TRIGGER merkle_leaves_no_delete BEFORE DELETE ON merkle_leaves
BEGIN SELECT RAISE(ABORT, 'merkle_leaves is append-only'); END;
CREATE TRIGGER checkpoints_no_update BEFORE UPDATE ON checkpoints
BEGIN SELECT RAISE(ABORT, 'checkpoints is append-only'); END;
CREATE TRIGGER checkpoints_no_delete BEFORE DELETE ON checkpoints
BEGIN SELECT RAISE(ABORT, 'checkpoints is append-only'); END;
