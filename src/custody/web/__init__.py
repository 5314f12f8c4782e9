"""The FastAPI application: JSON API, tus endpoint and (later) the review portal."""
