"""Retention: deciding when footage may go, the sweep that deletes it, and review."""
