"""Custody: an open-source evidence platform for police body-worn video."""

__version__ = "0.1.0"
