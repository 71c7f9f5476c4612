"""Helpers the tests share."""

# What the gateway sends for an admin: GET /stats then shows the whole service's figures.
ADMIN = {"X-User-Id": "test-admin", "X-User-Role": "admin"}
