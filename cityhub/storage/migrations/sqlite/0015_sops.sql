-- cityhub schema 15: SOP templates of each tenant (cityhub/ops/sop_templates.py; they
-- override the built-in templates of the same id) and agency inboxes (cityhub/ops/inbox.py:
-- messages left by automatic SOP steps).
CREATE TABLE sop_templates (
    tenant TEXT NOT NULL,
    id TEXT NOT NULL,
    doc TEXT NOT NULL,           -- the validated template, JSON
    updated_at TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    PRIMARY KEY (tenant, id)
);
CREATE TABLE agency_inbox (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    agency TEXT NOT NULL,        -- the agency account the message is for
    event_id TEXT NOT NULL,
    text TEXT NOT NULL,
    sent_by TEXT NOT NULL,
    sent_at TEXT NOT NULL
);
CREATE INDEX agency_inbox_agency ON agency_inbox (tenant, agency, sent_at);
