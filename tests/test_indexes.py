"""Indexes besides PyPI: the lock names the canonical source; a user's machine downloads from
it, a machine that cannot reach it uses a mirror folder and says so, and neither path accepts a
file whose sha256 differs from the lock's."""

from __future__ import annotations

import base64
import hashlib
import socket
import tomllib
import zipfile
from pathlib import Path

import pytest

from toolkit import indexes, wheels
from toolkit.catalog import ROOT
from toolkit.errors import ToolkitError

CANONICAL = "https://download.example.org/whl/cpu"
# What `wheels.target_environment()` asks of the image, for a wheel that fits any platform.
TARGET = {
    "platform_machine": "x86_64",
    "glibc": "2.36",
    "python_version": "3.11",
    "python_full_version": "3.11.2",
}


def make_wheel(folder: Path, name: str = "tinypkg", version: str = "1.0", body: str = "") -> Path:
    """A minimal valid py3-none-any wheel (pip reads its metadata)."""
    folder.mkdir(parents=True, exist_ok=True)
    dist = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": f"VALUE = {body!r}\n",
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{path},sha256={digest.decode()},{len(text.encode())}")
    record.append(f"{dist}/RECORD,,")
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
        archive.writestr(f"{dist}/RECORD", "\n".join(record) + "\n")
    return wheel


def closed_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/whl/cpu"


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    """A package locked from a named index, the way torch is from PyTorch's CPU index."""
    wheel = make_wheel(tmp_path / "published")
    pin = wheels.Pin("tinypkg", "1.0", (wheels.sha256_file(wheel),), None)

    def use(override: str | None, mirrors: tuple[Path, ...]) -> indexes.Index:
        index = indexes.Index("example-cpu", CANONICAL, override, mirrors)
        monkeypatch.setattr(indexes, "locked_packages", lambda: {"tinypkg": index})
        return index

    monkeypatch.setattr(indexes, "reachable", lambda url, timeout=5.0: _answers(url))
    return wheel, pin, use


def _answers(url: str) -> bool:
    # Only 127.0.0.1 is ever asked: the canonical host is never contacted from a test.
    if not url.startswith("http://127.0.0.1:"):
        return False
    import httpx

    try:
        return httpx.get(url.rstrip("/") + "/", timeout=2).status_code < 500
    except httpx.HTTPError:
        return False


def test_the_lock_names_torch_from_pytorchs_cpu_index_and_no_local_path():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    index = {i["name"]: i for i in project["tool"]["uv"]["index"]}["pytorch-cpu"]
    assert index["url"] == "https://download.pytorch.org/whl/cpu"
    assert index["explicit"] is True
    assert project["tool"]["uv"]["sources"]["torch"] == {"index": "pytorch-cpu"}
    assert "find-links" not in project["tool"]["uv"]
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    torch = next(p for p in lock["package"] if p["name"] == "torch")
    assert torch["source"] == {"registry": "https://download.pytorch.org/whl/cpu"}
    assert all(w["url"].startswith("https://download.pytorch.org/") for w in torch["wheels"])
    assert all(len(w["hash"]) == len("sha256:") + 64 for w in torch["wheels"])
    # No package anywhere in the lock comes from a folder of one machine.
    for package in lock["package"]:
        registry = (package.get("source") or {}).get("registry", "")
        assert not registry.startswith("/"), package["name"]
        assert all("path" not in w for w in package.get("wheels", [])), package["name"]
    assert indexes.locked_packages()["torch"].name == "pytorch-cpu"


def test_a_user_machine_downloads_from_the_index(tiny, tmp_path):
    # The simulated user machine: no mirror at all, the index answered by a local stand-in.
    wheel, pin, use = tiny
    with indexes.serve(wheel.parent, CANONICAL) as url:
        use(url, ())
        said: list[str] = []
        wheels._download([pin], TARGET, tmp_path / "out", said.append)
    assert wheels.sha256_file(tmp_path / "out" / wheel.name) == pin.hashes[0]
    assert said == [f"example-cpu: from {url}"]


def test_an_unreachable_index_falls_back_to_its_mirror_and_says_so(tiny, tmp_path):
    wheel, pin, use = tiny
    use(closed_url(), (tmp_path / "absent", wheel.parent))
    said: list[str] = []
    wheels._download([pin], TARGET, tmp_path / "out", said.append)
    assert (tmp_path / "out" / wheel.name).is_file()
    assert len(said) == 1 and "is unreachable; using the mirror" in said[0]
    assert str(wheel.parent) in said[0]


def test_a_mirror_with_other_bytes_under_the_locked_name_is_refused(tiny, tmp_path):
    wheel, pin, use = tiny
    impostor = make_wheel(tmp_path / "mirror", body="not the published file")
    assert impostor.name == wheel.name
    use(closed_url(), (impostor.parent,))
    with pytest.raises(ToolkitError, match="downloading wheels failed"):
        wheels._download([pin], TARGET, tmp_path / "out", lambda _: None)


def test_no_index_and_no_mirror_says_what_to_do(tiny, tmp_path):
    _, pin, use = tiny
    use(closed_url(), (tmp_path / "absent",))
    with pytest.raises(ToolkitError) as caught:
        wheels._download([pin], TARGET, tmp_path / "out", lambda _: None)
    assert "example-cpu" in caught.value.problem and "no mirror" in caught.value.problem
    assert "[tool.tiered.index-mirrors]" in caught.value.fix


def test_mirrors_and_index_urls_follow_the_environment(monkeypatch):
    monkeypatch.setenv("UV_INDEX", "pytorch-cpu=http://127.0.0.1:9/whl/cpu")
    monkeypatch.setenv("TIERED_INDEX_MIRRORS", "")
    (index,) = indexes.configured()
    assert index.url == "https://download.pytorch.org/whl/cpu"
    assert index.effective_url == "http://127.0.0.1:9/whl/cpu"
    assert index.mirrors == ()  # hidden, as on a user's machine
    monkeypatch.setenv("TIERED_INDEX_MIRRORS", "pytorch-cpu=/srv/a,pytorch-cpu=/srv/b")
    assert indexes.configured()[0].mirrors == (Path("/srv/a"), Path("/srv/b"))
    monkeypatch.delenv("TIERED_INDEX_MIRRORS")
    assert indexes.configured()[0].mirrors == (Path("/opt/wheels"),)


def test_lock_through_a_mirror_records_the_canonical_url(tiny, tmp_path, monkeypatch):
    # `inv lock` here: the index is unreachable, its mirror is served as a stand-in, and the
    # lock names the canonical URL with the file's sha256, exactly as locking online would.
    wheel, pin, _ = tiny
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        '[project]\nname = "demo"\nversion = "0"\nrequires-python = ">=3.11"\n'
        'dependencies = ["tinypkg==1.0"]\n\n'
        f'[[tool.uv.index]]\nname = "example-cpu"\nurl = "{CANONICAL}"\nexplicit = true\n\n'
        '[tool.uv.sources]\ntinypkg = { index = "example-cpu" }\n\n'
        f'[tool.tiered.index-mirrors]\nexample-cpu = ["{wheel.parent}"]\n'
    )
    monkeypatch.setattr(indexes, "ROOT", project)
    monkeypatch.delenv("TIERED_INDEX_MIRRORS", raising=False)
    monkeypatch.delenv("UV_INDEX", raising=False)
    monkeypatch.delenv("UV_OFFLINE", raising=False)  # its only index is on 127.0.0.1
    said: list[str] = []
    indexes.lock(said.append)
    lock = tomllib.loads((project / "uv.lock").read_text())
    locked = next(p for p in lock["package"] if p["name"] == "tinypkg")
    assert locked["source"] == {"registry": CANONICAL}
    assert locked["wheels"] == [
        {"url": f"{CANONICAL}/{wheel.name}", "hash": f"sha256:{pin.hashes[0]}"}
    ]
    assert "127.0.0.1" not in (project / "uv.lock").read_text()
    assert "using the mirror" in said[0]
