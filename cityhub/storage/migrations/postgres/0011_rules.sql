-- cityhub schema 11: situation rules (cityhub/ops/rules): the rules of each tenant, the state
-- the "rules" change-log consumer keeps per rule and entity (written in the transaction that
-- moves its cursor), and the events its steps decided to raise or clear, done after the commit.
CREATE TABLE rules (
    tenant TEXT NOT NULL,
    id TEXT NOT NULL,
    doc TEXT NOT NULL,          -- the rule as sent (JSON)
    created_at TEXT NOT NULL,
    modified_at TEXT NOT NULL,
    PRIMARY KEY (tenant, id)
);
CREATE TABLE rule_state (
    tenant TEXT NOT NULL,
    rule_id TEXT NOT NULL,
    key TEXT NOT NULL,          -- an entity id, '*' (the rule as a whole) or '' (its summary)
    active INTEGER NOT NULL,    -- 1: its event is raised
    since BIGINT NOT NULL,      -- µs since the epoch: since when the condition holds
    due BIGINT,                 -- µs: when the periodic check must look at it again
    data TEXT NOT NULL,         -- JSON: kind-specific (times of a count, inside a geofence...)
    PRIMARY KEY (tenant, rule_id, key)
);
CREATE INDEX rule_state_due ON rule_state (due) WHERE due IS NOT NULL;
CREATE TABLE rule_actions (
    aid BIGSERIAL PRIMARY KEY,
    tenant TEXT NOT NULL,
    rule_id TEXT NOT NULL,
    op TEXT NOT NULL,           -- raise | clear
    at BIGINT NOT NULL,         -- µs: when the condition was met or ended
    body TEXT NOT NULL,         -- JSON: the event, or the dedupeKey and reason of a clear
    claimed_until DOUBLE PRECISION NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX rule_actions_claim ON rule_actions (claimed_until);
