"""Invoke tasks (`inv --list`): the commands live in toolkit.commands, a module per concern;
this file only hands invoke their collection."""

from toolkit.commands import namespace
from toolkit.commands.common import friendly, load_catalog, services_of
from toolkit.commands.dev import dev
from toolkit.commands.prepare import doctor, env, images_, lock, render_, wheels_
from toolkit.commands.running import (
    build,
    clean,
    down,
    exec_,
    health_,
    logs,
    ps,
    restart,
    up,
)
from toolkit.commands.swarm import deploy, rollback, scale

__all__ = [
    "build",
    "clean",
    "deploy",
    "dev",
    "doctor",
    "down",
    "env",
    "exec_",
    "friendly",
    "health_",
    "images_",
    "load_catalog",
    "lock",
    "logs",
    "namespace",
    "ps",
    "render_",
    "restart",
    "rollback",
    "scale",
    "services_of",
    "up",
    "wheels_",
]
