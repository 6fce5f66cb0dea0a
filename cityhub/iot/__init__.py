"""IoT ingest: device registry (FIWARE IoT Agent provisioning API), measures over HTTP."""
