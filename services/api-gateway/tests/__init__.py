"""Tests of the api-gateway."""
