"""All routers of the service, gathered for app/main.py."""

from app.api.routes import users

routers = [users.router]
