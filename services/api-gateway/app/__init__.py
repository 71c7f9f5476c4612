"""api-gateway: the platform's single entry point."""
