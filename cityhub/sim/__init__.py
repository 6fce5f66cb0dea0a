"""Simulators: the agencies and platforms cityhub links with (agencies.py)."""
