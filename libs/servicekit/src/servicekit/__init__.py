"""Shared building blocks of every platform service.

Each service imports what it needs by name (``from servicekit.app import create_app``); nothing
here is copied into a service.
"""

__all__ = ["__version__"]
__version__ = "0.1.0"
