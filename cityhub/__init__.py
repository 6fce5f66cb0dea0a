"""cityhub: open-source smart-city platform."""

__version__ = "0.1.0"
