"""The one door to Docker: every command line, compose call and engine API call the toolkit
makes goes through this package.

- `compose`: the stack through compose (python-on-whales): build, up, down, ps, logs, exec.
- `command`: the compose command builder (`cli()` returns one), the runner, and
  DockerCommandError (command, exit code, output tail) for every command that fails.
- `sdk`: the docker SDK, for fast state polling, image lookups and low-level builds.
"""

from toolkit.stack.command import Compose, DockerCommandError, probe, run
from toolkit.stack.compose import (
    BUILD_LOG_DIR,
    CLIENT_WINDOWS,
    build,
    cli,
    clickhouse_scalar,
    compose,
    containers,
    down,
    exec_in,
    follow_logs,
    forget_client_windows,
    image_present,
    logs,
    port_conflicts,
    remove_images,
    restart,
    up,
)
from toolkit.stack.sdk import client, image_id, project_containers, service_url

__all__ = [
    "BUILD_LOG_DIR",
    "CLIENT_WINDOWS",
    "Compose",
    "DockerCommandError",
    "build",
    "cli",
    "clickhouse_scalar",
    "client",
    "compose",
    "containers",
    "down",
    "exec_in",
    "follow_logs",
    "forget_client_windows",
    "image_id",
    "image_present",
    "logs",
    "port_conflicts",
    "probe",
    "project_containers",
    "remove_images",
    "restart",
    "run",
    "service_url",
    "up",
]
