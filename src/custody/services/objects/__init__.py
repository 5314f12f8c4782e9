"""The stored objects themselves: fixity, migration to another store, verification of a store."""
