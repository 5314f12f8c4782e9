"""Subject access requests: a person asks for footage of themselves (UK GDPR Art. 15)."""
