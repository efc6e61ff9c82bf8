CREATE TABLE users (
    id TEXT PRIMARY KEY NOT NULL,
    username TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('force_system', 'officer', 'auditor', 'admin')),
    rank TEXT,
    officer_id TEXT,
    force_id TEXT,
    active BOOLEAN NOT NULL DEFAULT 1,
    password_hash TEXT NOT NULL,
    token_generation BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE login_failures (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    username TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX login_failures_username_at ON login_failures (username, at);

-- The audit log. Append-only; leaf_index and leaf_hash are filled by the Merkle
-- tree's sequencer.
CREATE TABLE audit_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    leaf_index BIGINT,
    leaf_hash TEXT,
    at BIGINT NOT NULL,
    action TEXT NOT NULL,
    actor_user_id TEXT,
    actor_username TEXT,
    actor_role TEXT,
    actor_rank TEXT,
    actor_force_id TEXT,
    closure_id TEXT,
    force_id TEXT,
    request_id TEXT,
    details TEXT NOT NULL
);
CREATE INDEX audit_events_closure ON audit_events (closure_id, seq);
CREATE INDEX audit_events_actor ON audit_events (actor_user_id, seq);
CREATE INDEX audit_events_action ON audit_events (action, seq);
CREATE INDEX audit_events_at ON audit_events (at);
