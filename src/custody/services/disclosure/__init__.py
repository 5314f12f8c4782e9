"""Disclosure: the case schedule, clips, shares with people outside the force, court bundles."""
