"""The OpenAPI 3.1 description of cityhub's HTTP API (``openapi.json``) and its route."""
