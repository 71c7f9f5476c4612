"""Dev server: `uvicorn --reload` whose reloads skip re-importing third-party libraries.

Plain `--reload` starts each new worker in a fresh interpreter, so every save pays for
importing fastapi, pydantic, redis... again (about 0.8 s of a 1 s reload on a 2-core machine).
Here the supervisor imports those libraries once, then forks workers: a reload re-imports only
the service's own code. Service modules (under /app) are never preloaded, so they always come
fresh from disk.

It leans on uvicorn's private `_subprocess.spawn` (the multiprocessing context that starts a
worker). If a uvicorn release changes that, the server still runs, as plain `--reload`.
"""

import multiprocessing
import os
import subprocess
import sys

APP_ROOT = "/app/"
# Run in a throw-away interpreter: import the app, list what came from outside /app.
PROBE = (
    "import sys, app.main; print(); print(*(n for n, m in list(sys.modules.items()) "
    f"if not (getattr(m, '__file__', None) or {APP_ROOT!r}).startswith({APP_ROOT!r})))"
)


def third_party_modules() -> list[str]:
    """Modules the app imports from outside its own tree (empty if the app cannot import)."""
    try:
        found = subprocess.run(
            [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120, check=False
        )
    except subprocess.TimeoutExpired:
        return []
    return (found.stdout.splitlines() or [""])[-1].split()


def preload(names: list[str]) -> None:
    for name in names:
        try:
            __import__(name)
        except Exception:  # noqa: BLE001, S112 - a module that fails here is imported for real later
            continue


def main() -> None:
    preload(third_party_modules())
    import uvicorn
    import uvicorn._subprocess

    if hasattr(uvicorn._subprocess, "spawn"):
        uvicorn._subprocess.spawn = multiprocessing.get_context("fork")
    sys.argv = [
        "uvicorn",
        "app.main:app",
        "--host",
        "0.0.0.0",
        "--port",
        os.environ.get("PORT", "8000"),
        "--reload",
        "--reload-dir",
        "/app",
    ]
    uvicorn.main()


if __name__ == "__main__":
    main()
