"""The fleet: officers, cameras, docks, who holds which camera, imports, health and roll-out."""
