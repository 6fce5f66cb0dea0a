"""Parking (주차): lots and spots with occupancy from sensors, availability and the nearest free
lot (lots.py), occupancy history and forecast, shared parking with bookings, and illegal-parking
enforcement (two sightings after a grace period, immediate zones, pre-notices)."""
