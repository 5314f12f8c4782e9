"""Categories, annotations, evidence flags, cases, holds and tombstones (the evidence lifecycle)."""

from __future__ import annotations
