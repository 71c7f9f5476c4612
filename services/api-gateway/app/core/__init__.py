"""Settings, token verification and the clients shared by every request."""
