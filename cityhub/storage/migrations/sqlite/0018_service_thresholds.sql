-- cityhub schema 18: the threshold tables a tenant calibrated for a city service
-- (cityhub/services/thresholds.py): facility safety grades per structure type, electrical-panel
-- anomaly levels. A tenant without a row uses the service's documented defaults.
CREATE TABLE service_thresholds (
    tenant TEXT NOT NULL,
    service TEXT NOT NULL,       -- facility | electrical
    doc TEXT NOT NULL,           -- the validated table, JSON
    updated_at TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    PRIMARY KEY (tenant, service)
);
