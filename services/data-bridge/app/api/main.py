"""All routers of the service, gathered for app/main.py."""

from app.api.routes import feeds, replays, series, stats, ticks, ws

routers = [series.router, replays.router, feeds.router, ticks.router, stats.router, ws.router]
