"""`custody demo`: a small force, a shift of docking with real footage, and the server."""
