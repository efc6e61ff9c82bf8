-- Witness cosignatures of the log's checkpoints (C2SP tlog-cosignature), kept
-- as received: append-only, as the events are.
CREATE TABLE cosignatures (
    tree_size BIGINT NOT NULL,
    -- The cosigner's key name and hex key id.
    witness TEXT NOT NULL,
    key_id TEXT NOT NULL,
    -- POSIX seconds, as the cosignature carries it.
    cosigned_at BIGINT NOT NULL,
    -- The note signature line, without its newline.
    line TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (tree_size, witness, key_id)
);
CREATE TRIGGER cosignatures_no_update BEFORE UPDATE ON cosignatures
BEGIN SELECT RAISE(ABORT, 'cosignatures is append-only'); END;
CREATE TRIGGER cosignatures_no_delete BEFORE DELETE ON cosignatures
BEGIN SELECT RAISE(ABORT, 'cosignatures is append-only'); END;

-- What the witness client knows of each witness of its policy.
CREATE TABLE witness_status (
    witness TEXT PRIMARY KEY NOT NULL,
    key_id TEXT NOT NULL,
    cosigned_size BIGINT,
    cosigned_at BIGINT,
    last_error TEXT,
    last_error_at BIGINT,
    alarms BIGINT NOT NULL DEFAULT 0
);
