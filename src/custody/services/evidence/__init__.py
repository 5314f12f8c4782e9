"""Evidence: categories and categorising, notes and bookmarks, flags, holds and cases."""
