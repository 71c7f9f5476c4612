"""All routers of the service, gathered for app/main.py."""

from app.api.routes import market, users

routers = [users.router, market.router]
