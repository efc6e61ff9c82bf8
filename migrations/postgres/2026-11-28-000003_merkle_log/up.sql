-- The Merkle tree over the audit log. Leaves are in their own append-only table,
-- so that the event table is never updated, not even to note its leaf.
ALTER TABLE audit_events DROP COLUMN leaf_index, DROP COLUMN leaf_hash;

-- The writing transaction's id: the sequencer integrates an event only once no
-- transaction that could still commit an earlier one is running.
ALTER TABLE audit_events ADD COLUMN txid BIGINT NOT NULL DEFAULT (pg_current_xact_id()::text::bigint);
CREATE INDEX audit_events_txid ON audit_events (txid, seq);

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

-- The sequencer's progress: every event written by a transaction below the
-- watermark is in the tree.
CREATE TABLE log_state (
    id INTEGER PRIMARY KEY NOT NULL,
    watermark BIGINT NOT NULL
);
INSERT INTO log_state (id, watermark) VALUES (1, 0);

-- The database itself refuses to change or remove what the log holds.
CREATE FUNCTION closure_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP;
END
$$;
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION closure_audit_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION closure_audit_append_only();
CREATE TRIGGER merkle_leaves_append_only BEFORE UPDATE OR DELETE ON merkle_leaves
    FOR EACH ROW EXECUTE FUNCTION closure_audit_append_only();
CREATE TRIGGER merkle_leaves_no_truncate BEFORE TRUNCATE ON merkle_leaves
    FOR EACH STATEMENT EXECUTE FUNCTION closure_audit_append_only();
CREATE TRIGGER checkpoints_append_only BEFORE UPDATE OR DELETE ON checkpoints
    FOR EACH ROW EXECUTE FUNCTION closure_audit_append_only();
CREATE TRIGGER checkpoints_no_truncate BEFORE TRUNCATE ON checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION closure_audit_append_only();
