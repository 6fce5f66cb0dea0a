-- cityhub schema 7: the IoT device registry (cityhub/iot): service groups and devices in the
-- FIWARE IoT Agent provisioning shape, per tenant (fiware-service) and service path.
CREATE TABLE iot_groups (
    tenant TEXT NOT NULL,
    apikey TEXT NOT NULL,
    resource TEXT NOT NULL,
    service_path TEXT NOT NULL,
    doc TEXT NOT NULL, -- the group as provisioned (JSON)
    PRIMARY KEY (tenant, apikey, resource)
);
CREATE TABLE iot_devices (
    tenant TEXT NOT NULL,
    device_id TEXT NOT NULL,
    service_path TEXT NOT NULL,
    doc TEXT NOT NULL, -- the device as provisioned (JSON)
    PRIMARY KEY (tenant, device_id)
);
-- measures that could not be taken, kept for inspection and replay
CREATE TABLE iot_rejected (
    id BIGSERIAL PRIMARY KEY,
    tenant TEXT NOT NULL,
    service_path TEXT NOT NULL,
    source TEXT NOT NULL,      -- "http" or "mqtt"
    resource TEXT NOT NULL,    -- /iot/json, /iot/d, or the MQTT topic
    apikey TEXT NOT NULL,
    device_id TEXT NOT NULL,
    format TEXT NOT NULL,      -- json or ul
    payload BYTEA NOT NULL,
    reason TEXT NOT NULL,
    error TEXT NOT NULL,       -- the NGSI-LD error type
    received_at TEXT NOT NULL
);
CREATE INDEX iot_rejected_device ON iot_rejected (tenant, device_id);
