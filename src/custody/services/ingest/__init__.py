"""Ingest: manifests declared by docks, tus uploads, and the verified commit."""
