"""The rules of Custody as plain Python: no I/O, no frameworks."""
