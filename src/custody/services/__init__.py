"""The use cases: each opens a unit of work, applies domain rules and audits in the same transaction."""
