-- Sessions of the pages under /ui (never accepted by /api/v1). The cookie holds
-- a random id; only its SHA-256 is stored, so a copy of this table signs no one
-- in. A session speaks for its user while the user is active and still has the
-- token generation it was opened under (deactivation and a new password raise
-- it), and until it expires or lies idle too long.
CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id),
    token_generation BIGINT NOT NULL,
    csrf_token TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);
