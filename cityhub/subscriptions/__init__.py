"""NGSI-LD subscriptions: the API, the matcher (a change-log consumer) and notification delivery."""
