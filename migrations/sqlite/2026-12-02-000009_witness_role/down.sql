CREATE TABLE users_old (
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
INSERT INTO users_old SELECT id, username, display_name, role, rank, officer_id, force_id, active,
       password_hash, token_generation, created_at, updated_at FROM users WHERE role <> 'witness';
DROP TABLE users;
ALTER TABLE users_old RENAME TO users;
