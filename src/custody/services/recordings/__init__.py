"""Recordings as people find and watch them: search, lists, viewing, media and previews."""
