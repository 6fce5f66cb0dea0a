-- cityhub schema 3: subscriptions, their delivery status, and the notification outbox.
CREATE TABLE subscriptions (
    tenant TEXT NOT NULL,
    id TEXT NOT NULL,
    doc BLOB NOT NULL, -- the subscription as stored (cityhub/subscriptions/model.py)
    created_at TEXT NOT NULL,
    modified_at TEXT NOT NULL,
    PRIMARY KEY (tenant, id)
);
CREATE TABLE subscription_status (
    tenant TEXT NOT NULL,
    id TEXT NOT NULL,
    times_sent INTEGER NOT NULL DEFAULT 0,
    times_failed INTEGER NOT NULL DEFAULT 0,
    last_notification TEXT,
    last_success TEXT,
    last_failure TEXT,
    PRIMARY KEY (tenant, id)
);
-- one row per notification to send; written with the consumer cursor that produced it, deleted
-- once delivered; rows that used up their attempts stay with dead = 1 (the dead-letter list)
CREATE TABLE outbox (
    nid INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant TEXT NOT NULL,
    sub_id TEXT NOT NULL,
    notification_id TEXT NOT NULL,
    endpoint BLOB NOT NULL, -- JSON: uri, accept, receiverInfo, notifierInfo
    body BLOB NOT NULL,     -- JSON notification without notifiedAt (added when sent)
    created_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL NOT NULL,
    claimed_until REAL NOT NULL DEFAULT 0,
    last_error TEXT,
    dead INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX outbox_due ON outbox (dead, next_at);
CREATE INDEX outbox_sub ON outbox (tenant, sub_id, nid);
