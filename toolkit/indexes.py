"""Package indexes besides PyPI (PyTorch's CPU index for torch), and mirrors of them.

The lock names each package's canonical source, the way uv documents it for torch: an explicit
`[[tool.uv.index]]` and a `[tool.uv.sources]` entry. A user's machine downloads from there.
Where that index cannot be reached (an air-gapped host, or a machine whose proxy blocks it), a
folder listed for it under `[tool.tiered.index-mirrors]` stands in, and the toolkit says so.
A mirror is trusted for nothing but bytes: every file it gives is checked against the lock's
sha256, so a mirror holding anything but the locked file fails the download.

`UV_INDEX="name=url"` overrides a named index's URL, as it does for uv (a company mirror, or a
local stand-in in the toolkit's tests); `TIERED_INDEX_MIRRORS="name=/folder,..."` overrides the
mirror folders (empty: no mirror, as on a user's machine).
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import http.server
import os
import re
import subprocess
import threading
import tomllib
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from toolkit.catalog import ROOT
from toolkit.envfile import ca_bundle
from toolkit.errors import ToolkitError

PYPI = "https://pypi.org/simple"


@dataclass(frozen=True)
class Index:
    name: str
    url: str  # the canonical URL, as pyproject.toml and uv.lock name it
    override: str | None  # UV_INDEX's URL for this name, if any
    mirrors: tuple[Path, ...]

    @property
    def effective_url(self) -> str:
        return self.override or self.url


@dataclass(frozen=True)
class Source:
    """Where a download from an index really goes: the index itself, or a mirror folder."""

    index: Index
    kind: str  # "index" or "mirror"
    location: str

    def pip_args(self) -> list[str]:
        flag = "--extra-index-url" if self.kind == "index" else "--find-links"
        return [flag, self.location]

    def describe(self) -> str:
        if self.kind == "index":
            return f"{self.index.name}: from {self.location}"
        return (
            f"{self.index.name}: {self.index.effective_url} is unreachable; using the mirror "
            f"{self.location} (each file checked against uv.lock's sha256)"
        )


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _env_pairs(variable: str) -> dict[str, list[str]]:
    pairs: dict[str, list[str]] = {}
    for item in re.split(r"[\s,]+", os.environ.get(variable, "")):
        name, sep, value = item.partition("=")
        if sep and name:
            pairs.setdefault(name, []).append(value)
    return pairs


def configured() -> list[Index]:
    """The project's named indexes (PyPI is implicit), with their overrides and mirrors."""
    project = _pyproject()
    mirrors = project.get("tool", {}).get("tiered", {}).get("index-mirrors", {})
    overrides = _env_pairs("UV_INDEX")
    env_mirrors = _env_pairs("TIERED_INDEX_MIRRORS")
    hidden = "TIERED_INDEX_MIRRORS" in os.environ
    result = []
    for entry in project.get("tool", {}).get("uv", {}).get("index", []):
        name = entry["name"]
        folders = env_mirrors.get(name, []) if hidden else mirrors.get(name, [])
        result.append(
            Index(
                name=name,
                url=entry["url"].rstrip("/"),
                override=(overrides.get(name) or [None])[0],
                mirrors=tuple(Path(f) for f in folders if f),
            )
        )
    return result


def locked_packages() -> dict[str, Index]:
    """Package name -> the named index uv.lock takes it from (packages from PyPI are absent)."""
    by_url = {index.url: index for index in configured()}
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    found = {}
    for package in lock.get("package", []):
        registry = (package.get("source") or {}).get("registry", "").rstrip("/")
        if registry and registry != PYPI:
            if registry not in by_url:
                raise ToolkitError(
                    f"uv.lock takes {package['name']} from {registry}, which no "
                    "[[tool.uv.index]] in pyproject.toml names",
                    "run `inv lock`",
                )
            found[package["name"]] = by_url[registry]
    return found


def reachable(url: str, timeout: float = 5.0) -> bool:
    """Does the index answer at all (any status below 500)? TLS is checked with the host's
    CA bundle, as the downloads will be."""
    try:
        response = httpx.get(url.rstrip("/") + "/", timeout=timeout, verify=str(ca_bundle()))
    except httpx.HTTPError:
        return False
    return response.status_code < 500


def source_for(index: Index) -> Source:
    """The index when it answers, else its first mirror folder that exists; or an error that
    names both and how to fix it."""
    if reachable(index.effective_url):
        return Source(index, "index", index.effective_url)
    for folder in index.mirrors:
        if folder.is_dir():
            return Source(index, "mirror", str(folder))
    tried = ", ".join(str(f) for f in index.mirrors) or "none configured"
    raise ToolkitError(
        f"the package index {index.name} ({index.effective_url}) is unreachable and no mirror "
        f"of it exists (mirrors: {tried})",
        "check the network (`inv doctor`), or list a folder holding its locked wheels under "
        f"[tool.tiered.index-mirrors] {index.name} in pyproject.toml",
    )


class _SimpleIndex(http.server.SimpleHTTPRequestHandler):
    """PEP 503 pages for the wheels of one folder, under the canonical URL's own path, so a
    lock made through it differs from the canonical one only in scheme and host."""

    prefix = "/"
    folder = Path()

    def log_message(self, *args) -> None:  # quiet: the caller reports what it used
        pass

    def translate_path(self, path: str) -> str:
        name = urllib.parse.unquote(urllib.parse.urlsplit(path).path)
        return str(self.folder / Path(name).name)

    def do_GET(self) -> None:
        path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
        if not path.startswith(self.prefix):
            self.send_error(404)
            return
        rest = path[len(self.prefix) :].strip("/")
        if rest.endswith(".whl"):
            super().do_GET()
            return
        wanted = _normalise(rest) if rest else None
        links = []
        for wheel in sorted(self.folder.glob("*.whl")):
            project = _normalise(wheel.name.split("-", 1)[0])
            if wanted is None:
                if f">{project}<" not in "".join(links):
                    links.append(f'<a href="{self.prefix}{project}/">{project}</a>')
            elif project == wanted:
                href = f"{self.prefix}{urllib.parse.quote(wheel.name)}#sha256={_sha256(wheel)}"
                links.append(f'<a href="{html.escape(href)}">{html.escape(wheel.name)}</a>')
        if wanted is not None and not links:
            self.send_error(404)
            return
        body = "<!DOCTYPE html><html><body>\n" + "<br>\n".join(links) + "\n</body></html>\n"
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


_HASHES: dict[tuple[str, float, int], str] = {}


def _sha256(path: Path) -> str:
    stat = path.stat()
    key = (str(path), stat.st_mtime, stat.st_size)
    if key not in _HASHES:
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        _HASHES[key] = digest.hexdigest()
    return _HASHES[key]


@contextlib.contextmanager
def serve(folder: Path, canonical_url: str) -> Iterator[str]:
    """Serve `folder` as a simple index on 127.0.0.1 at the canonical URL's path; yields the
    URL to use in its place (a stand-in for an index that cannot be reached)."""
    prefix = urllib.parse.urlsplit(canonical_url).path.rstrip("/") + "/"
    handler = type("Handler", (_SimpleIndex,), {"prefix": prefix, "folder": Path(folder)})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{prefix.rstrip('/')}"
    finally:
        server.shutdown()
        server.server_close()


def lock(progress=print) -> None:
    """`uv lock`, reaching each named index directly, or through a stand-in serving its mirror
    when it cannot be reached; the lock then names the canonical URL either way (the mirror
    holds the same files, and their sha256 is what the lock records)."""
    with contextlib.ExitStack() as stack:
        args, rewrites = [], []
        for index in configured():
            source = source_for(index)
            progress(source.describe())
            if source.kind == "mirror":
                url = stack.enter_context(serve(Path(source.location), index.url))
                args += ["--index", f"{index.name}={url}"]
                rewrites.append((_origin(url), _origin(index.url)))
            elif index.override:
                args += ["--index", f"{index.name}={index.override}"]
                rewrites.append((_origin(index.override), _origin(index.url)))
        env = {k: v for k, v in os.environ.items() if k != "UV_INDEX"}
        env["SSL_CERT_FILE"] = env.get("SSL_CERT_FILE") or _ca()
        result = subprocess.run(
            ["uv", "lock", *args], cwd=ROOT, capture_output=True, text=True, env=env, check=False
        )
    if result.returncode != 0:
        raise ToolkitError(f"uv lock failed: {result.stderr.strip()}", "fix the requirement")
    path = ROOT / "uv.lock"
    text = path.read_text()
    for stand_in, canonical in rewrites:
        text = text.replace(stand_in, canonical)
    path.write_text(text)
    progress(result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "locked")


def _origin(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _ca() -> str:
    return str(ca_bundle())
