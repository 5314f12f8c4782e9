"""Tools for developers: screenshots of the portal."""
