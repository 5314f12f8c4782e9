"""Identity: users and roles, API tokens, portal sign-in, and a new installation."""
