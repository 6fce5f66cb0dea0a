-- cityhub schema 3: subscriptions, their delivery status, and the notification outbox.
CREATE TABLE subscriptions (
    tenant TEXT NOT NULL,
    id TEXT NOT NULL,
    doc JSON NOT NULL, -- the subscription as stored (cityhub/subscriptions/model.py)
    created_at TEXT NOT NULL,
    modified_at TEXT NOT NULL,
    PRIMARY KEY (tenant, id)
);
CREATE TABLE subscription_status (
    tenant TEXT NOT NULL,
    id TEXT NOT NULL,
    times_sent BIGINT NOT NULL DEFAULT 0,
    times_failed BIGINT NOT NULL DEFAULT 0,
    last_notification TEXT,
    last_success TEXT,
    last_failure TEXT,
    PRIMARY KEY (tenant, id)
);
-- one row per notification to send; written with the consumer cursor that produced it, deleted
-- once delivered; rows that used up their attempts stay with dead = 1 (the dead-letter list)
CREATE TABLE outbox (
    nid BIGSERIAL PRIMARY KEY,
    tenant TEXT NOT NULL,
    sub_id TEXT NOT NULL,
    notification_id TEXT NOT NULL,
    endpoint JSON NOT NULL, -- uri, accept, receiverInfo, notifierInfo
    body BYTEA NOT NULL,    -- JSON notification without notifiedAt (added when sent)
    created_at DOUBLE PRECISION NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at DOUBLE PRECISION NOT NULL,
    claimed_until DOUBLE PRECISION NOT NULL DEFAULT 0,
    last_error TEXT,
    dead INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX outbox_due ON outbox (dead, next_at);
CREATE INDEX outbox_sub ON outbox (tenant, sub_id, nid);
