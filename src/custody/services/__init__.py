"""The use cases: each opens a unit of work, applies domain rules, audits in one transaction."""
