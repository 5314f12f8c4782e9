"""The audit trail as people use it: trails, reports, checkpoints and proofs."""
