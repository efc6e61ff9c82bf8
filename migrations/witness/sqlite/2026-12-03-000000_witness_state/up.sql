-- The witness's state: per log origin, the latest checkpoint it cosigned (or
-- the one pinned as its starting point, then without a cosignature).
CREATE TABLE witness_state (
    origin TEXT PRIMARY KEY NOT NULL,
    size BIGINT NOT NULL CHECK (size >= 0),
    root TEXT NOT NULL,
    note TEXT NOT NULL,
    cosignature TEXT,
    updated_at BIGINT NOT NULL
);
