-- cityhub schema 9: users, their grants, custom roles and tokens (cityhub/auth).
CREATE TABLE auth_users (
    name TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,   -- argon2id
    disabled INTEGER NOT NULL,     -- 1: may not log in, its tokens are refused
    created_at TEXT NOT NULL,
    doc TEXT NOT NULL              -- {"fullName", "email", "organization"} (JSON)
);
CREATE TABLE auth_grants (
    user_name TEXT NOT NULL,
    tenant TEXT NOT NULL,          -- "*": every tenant
    role TEXT NOT NULL,
    types TEXT,                    -- JSON array of entity type names; NULL: every type
    PRIMARY KEY (user_name, tenant, role)
);
CREATE TABLE auth_roles (
    name TEXT PRIMARY KEY,
    permissions TEXT NOT NULL,     -- JSON array
    description TEXT NOT NULL
);
-- login tokens and API keys: only a SHA-256 of the secret is kept
CREATE TABLE auth_tokens (
    hash TEXT PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,       -- public id, to list and revoke
    user_name TEXT NOT NULL,
    kind TEXT NOT NULL,            -- login | apikey
    label TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT                -- NULL: until revoked
);
CREATE INDEX auth_tokens_user ON auth_tokens (user_name);
