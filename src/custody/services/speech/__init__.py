"""Searchable speech: recordings transcribed by a job, corrected by people, searched."""
