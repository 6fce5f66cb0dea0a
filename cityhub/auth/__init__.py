"""Identities, roles, grants, tokens and the gate in front of the API (docs/security.md)."""
