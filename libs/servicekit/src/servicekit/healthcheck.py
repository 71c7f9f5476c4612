"""Container HEALTHCHECK: `python -m servicekit.healthcheck` exits 0 when /health says ok or
degraded, and prints the report (Docker keeps it in `docker inspect`; `inv health` shows it).
The slim images carry no curl, and the interpreter is already there.

/health answers from the background checker's last round (servicekit.health), so Docker's
2 s polling costs no dependency call; "starting" and a stale round are 503, so exit 1."""

import os
import sys
import urllib.error
import urllib.request


def main() -> int:
    port = os.environ.get("PORT", "8000")
    path = os.environ.get("HEALTH_PATH", "/health")
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=3) as response:
            print(response.read(4000).decode(errors="replace"))
            return 0 if response.status == 200 else 1
    except urllib.error.HTTPError as exc:
        print(exc.read(4000).decode(errors="replace"))
        return 1
    except (urllib.error.URLError, OSError) as exc:
        print(f'{{"status": "down", "detail": "no answer on port {port}: {exc}"}}')
        return 1


if __name__ == "__main__":
    sys.exit(main())
