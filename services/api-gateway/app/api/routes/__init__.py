"""One router per family of forwarded routes."""
