"""toolkit/fingerprint.py: what a build or test run depends on, and skipping it when unchanged.

Every test works on a copy of a service's tree under tmp_path with fake image ids: the
checkout is never modified and no Docker engine is needed.
"""

from __future__ import annotations

import json
import shutil

import pytest

from toolkit import catalog, fingerprint
from toolkit.errors import ToolkitError

SERVICE = "api-gateway"
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", ".benchmarks")


class Images:
    """Fake engine: tag -> id (None when absent)."""

    def __init__(self) -> None:
        self.ids = {
            tag: f"sha256:{index:064x}"
            for index, tag in enumerate(
                [
                    *fingerprint.BASE_IMAGES,
                    "tiered/redis:7",
                    "tiered/postgres:15",
                    "tiered/clickhouse:latest",
                    "tiered/user-service:latest",
                    "tiered/database-service:latest",
                ],
                start=1,
            )
        }

    def __call__(self, tag: str) -> str | None:
        return self.ids.get(tag)


@pytest.fixture
def cat() -> catalog.Catalog:
    return catalog.load()


@pytest.fixture
def tree(tmp_path):
    """A copy of what the fingerprint reads: the service, servicekit, a wheelhouse manifest."""
    root = tmp_path / "repo"
    shutil.copytree(catalog.ROOT / "services" / SERVICE, root / "services" / SERVICE, ignore=IGNORE)
    shutil.copytree(
        catalog.ROOT / "libs" / "servicekit", root / "libs" / "servicekit", ignore=IGNORE
    )
    (root / "wheelhouse").mkdir()
    manifest = {
        "target": {"python_full_version": "3.11.2"},
        "wheels": {
            "fastapi-0.1-py3-none-any.whl": {"sha256": "a" * 64, "bytes": 1},
            "pytest-8.0-py3-none-any.whl": {"sha256": "b" * 64, "bytes": 1},
        },
        "services": {
            SERVICE: ["fastapi-0.1-py3-none-any.whl"],
            f"{SERVICE}:dev": ["fastapi-0.1-py3-none-any.whl", "pytest-8.0-py3-none-any.whl"],
        },
    }
    (root / "wheelhouse" / "manifest.json").write_text(json.dumps(manifest))
    return root


@pytest.fixture
def env(cat, tree, tmp_path, monkeypatch):
    """Keyword arguments pointing every function at the copy, a state dir and fake images."""
    monkeypatch.delenv(fingerprint.FORCE_ENV, raising=False)
    return {"root": tree, "state_dir": tmp_path / "state", "image_id": Images()}


def inputs_of(cat, purpose="build", **env):
    options = {k: v for k, v in env.items() if k != "state_dir"}
    return fingerprint.inputs(cat, cat.service(SERVICE), purpose, **options)


def digest(cat, purpose="build", **env):
    return fingerprint.digest_of(inputs_of(cat, purpose, **env))


def test_the_fingerprint_is_stable_and_covers_every_kind_of_input(cat, env, tree):
    first = inputs_of(cat, **env)
    assert first == inputs_of(cat, **env)
    assert f"file:services/{SERVICE}/app/main.py" in first
    assert f"file:services/{SERVICE}/Dockerfile" in first
    assert "file:libs/servicekit/src/servicekit/health.py" in first
    assert f"lock:services/{SERVICE}/requirements.txt" in first
    assert first["wheel:fastapi-0.1-py3-none-any.whl"] == "a" * 64
    assert "wheel:pytest-8.0-py3-none-any.whl" not in first  # production: no dev wheels
    assert first["image:tiered/python:3.11"].startswith("sha256:")
    assert "image:tiered/python-build:3.11" in first
    assert "compose" in first
    assert (
        len(
            fingerprint.fingerprint(
                cat, cat.service(SERVICE), "build", root=tree, image_id=Images()
            )
        )
        == 64
    )


def test_caches_and_editor_leftovers_do_not_count(cat, env, tree):
    before = digest(cat, **env)
    app = tree / "services" / SERVICE / "app"
    (app / "__pycache__").mkdir(exist_ok=True)
    (app / "__pycache__" / "main.cpython-311.pyc").write_bytes(b"\0compiled")
    (app / ".main.py.swp").write_bytes(b"vim")
    (tree / "services" / SERVICE / ".pytest_cache").mkdir()
    (tree / "services" / SERVICE / ".pytest_cache" / "x").write_text("y")
    assert digest(cat, **env) == before


def test_a_one_line_change_invalidates_and_reverting_it_restores(cat, env, tree):
    main = tree / "services" / SERVICE / "app" / "main.py"
    original = main.read_text()
    before = digest(cat, **env)
    main.write_text(original + "# one more line\n")
    assert digest(cat, **env) != before
    main.write_text(original)
    assert digest(cat, **env) == before


@pytest.mark.parametrize(
    "change",
    ["servicekit", "lock", "new file", "removed file", "dockerfile"],
)
def test_each_source_of_change_invalidates(cat, env, tree, change):
    before = digest(cat, **env)
    service_dir = tree / "services" / SERVICE
    if change == "servicekit":
        path = tree / "libs" / "servicekit" / "src" / "servicekit" / "retry.py"
        path.write_text(path.read_text() + "\n")
    elif change == "lock":
        path = service_dir / "requirements.txt"
        path.write_text(path.read_text().replace("==", "===", 1))
    elif change == "new file":
        (service_dir / "app" / "extra.py").write_text("X = 1\n")
    elif change == "removed file":
        (service_dir / "app" / "ratelimit.py").unlink()
    else:
        path = service_dir / "Dockerfile"
        path.write_text(path.read_text() + "# drift\n")
    assert digest(cat, **env) != before


def test_base_image_and_wheel_changes_invalidate(cat, env, tree):
    before = digest(cat, **env)
    env["image_id"].ids["tiered/python:3.11"] = "sha256:" + "f" * 64
    after_image = digest(cat, **env)
    assert after_image != before
    manifest_path = tree / "wheelhouse" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["wheels"]["fastapi-0.1-py3-none-any.whl"]["sha256"] = "c" * 64
    manifest_path.write_text(json.dumps(manifest))
    assert digest(cat, **env) != after_image
    manifest_path.unlink()
    assert inputs_of(cat, **env)["wheelhouse"] == "absent"


def test_a_missing_base_image_is_an_input_too(cat, env):
    del env["image_id"].ids["tiered/python-build:3.11"]
    assert inputs_of(cat, **env)["image:tiered/python-build:3.11"] == fingerprint.MISSING


def test_tests_also_depend_on_dev_wheels_tests_dependencies_and_arguments(cat, env, tree):
    entries = inputs_of(cat, "tests", **env)
    assert "wheel:pytest-8.0-py3-none-any.whl" in entries
    assert f"file:services/{SERVICE}/tests/conftest.py" in entries
    for tag in ("tiered/redis:7", "tiered/user-service:latest", "tiered/database-service:latest"):
        assert f"image:{tag}" in entries
    plain = digest(cat, "tests", **env)
    options = {k: v for k, v in env.items() if k != "state_dir"}
    with_args = fingerprint.fingerprint(
        cat, cat.service(SERVICE), "tests", extra=["-k", "auth"], **options
    )
    assert with_args != plain
    # a dependency rebuilt means its behaviour may have changed: the suite runs again
    env["image_id"].ids["tiered/user-service:latest"] = "sha256:" + "e" * 64
    assert digest(cat, "tests", **env) != plain


def test_purposes_differ(cat, env):
    digests = {purpose: digest(cat, purpose, **env) for purpose in fingerprint.PURPOSES}
    assert len(set(digests.values())) == len(digests)


def test_unknown_purpose_is_named(cat, env):
    with pytest.raises(ToolkitError, match="unknown purpose"):
        inputs_of(cat, "deploy", **env)


# ---- decide and record ------------------------------------------------------------------


def test_a_test_run_is_skipped_after_a_green_run_and_runs_again_after_a_change(
    cat, env, tree, monkeypatch
):
    service = cat.service(SERVICE)
    first = fingerprint.decide(cat, service, "tests", **env)
    assert not first.skip and "no record" in first.reason
    path = fingerprint.record(cat, service, "tests", first, **env)
    assert path == env["state_dir"] / f"tests-{SERVICE}.json"
    assert json.loads(path.read_text())["digest"] == first.digest

    second = fingerprint.decide(cat, service, "tests", **env)
    assert second.skip, second.reason
    assert "unchanged since the green run" in second.reason and "--force" in second.reason
    assert fingerprint.unchanged(cat, service, "tests", **env)

    forced = fingerprint.decide(cat, service, "tests", force=True, **env)
    assert not forced.skip and forced.reason == "forced"
    monkeypatch.setenv(fingerprint.FORCE_ENV, "1")
    assert not fingerprint.decide(cat, service, "tests", **env).skip
    monkeypatch.delenv(fingerprint.FORCE_ENV)

    main = tree / "services" / SERVICE / "app" / "main.py"
    main.write_text(main.read_text() + "# edited\n")
    third = fingerprint.decide(cat, service, "tests", **env)
    assert not third.skip
    assert f"services/{SERVICE}/app/main.py" in third.reason


def test_a_build_is_skipped_only_while_its_image_is_the_one_it_made(cat, env):
    service = cat.service(SERVICE)
    images = env["image_id"]
    images.ids[f"tiered/{SERVICE}:latest"] = "sha256:" + "1" * 64
    fingerprint.record(cat, service, "build", **env)
    assert fingerprint.decide(cat, service, "build", **env).skip

    images.ids[f"tiered/{SERVICE}:latest"] = "sha256:" + "2" * 64  # rebuilt from elsewhere
    replaced = fingerprint.decide(cat, service, "build", **env)
    assert not replaced.skip and "not the image that build made" in replaced.reason

    del images.ids[f"tiered/{SERVICE}:latest"]
    missing = fingerprint.decide(cat, service, "build", **env)
    assert not missing.skip and "missing" in missing.reason


def test_record_fills_in_an_image_the_run_itself_made(cat, env):
    service = cat.service(SERVICE)
    images = env["image_id"]
    made_by_the_run = images.ids.pop("tiered/user-service:latest")
    before = fingerprint.decide(cat, service, "tests", **env)
    assert before.entries["image:tiered/user-service:latest"] == fingerprint.MISSING
    images.ids["tiered/user-service:latest"] = made_by_the_run  # prepare() built it
    fingerprint.record(cat, service, "tests", before, **env)
    assert fingerprint.decide(cat, service, "tests", **env).skip


def test_a_file_edited_during_the_run_still_counts_as_changed(cat, env, tree):
    service = cat.service(SERVICE)
    before = fingerprint.decide(cat, service, "tests", **env)
    main = tree / "services" / SERVICE / "app" / "main.py"
    main.write_text(main.read_text() + "# saved while the suite ran\n")
    fingerprint.record(cat, service, "tests", before, **env)  # the run was green
    assert not fingerprint.decide(cat, service, "tests", **env).skip


def test_a_corrupt_record_is_no_record(cat, env):
    service = cat.service(SERVICE)
    path = fingerprint.state_path(service, "tests", env["state_dir"])
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    decision = fingerprint.decide(cat, service, "tests", **env)
    assert not decision.skip and "no record" in decision.reason
    assert fingerprint.forget(service, "tests", env["state_dir"])
    assert not path.exists()


def test_describe_is_short():
    before = {f"file:a{i}.py": "1" for i in range(10)} | {"image:tiered/python:3.11": "x"}
    after = {f"file:a{i}.py": "2" for i in range(10)} | {"image:tiered/python:3.11": "y"}
    text = fingerprint.describe(before, after, limit=3)
    assert text.endswith("and 8 more")
    assert fingerprint.describe({"a": "1"}, {"a": "1"}) == "nothing"
    assert "(new)" in fingerprint.describe({}, {"file:x.py": "1"})


def test_state_lives_under_the_git_ignored_cache():
    assert fingerprint.STATE_DIR == catalog.ROOT / ".cache" / "state"
    assert ".cache/" in (catalog.ROOT / ".gitignore").read_text().split()
    service = catalog.load().service(SERVICE)
    assert fingerprint.state_path(service, "build").name == f"build-{SERVICE}.json"


def test_build_purpose_of_a_target():
    assert fingerprint.build_purpose("production") == "build"
    assert fingerprint.build_purpose("test") == "build-test"
    assert fingerprint.build_purpose("application") == "build-application"


@pytest.mark.parametrize(
    ("args", "environ", "expected"),
    [
        (["-q"], {}, (False, ["-q"])),
        (["--force", "-k", "auth"], {}, (True, ["-k", "auth"])),
        ([], {"TIERED_FORCE": "1"}, (True, [])),
        (("-x",), {"TIERED_FORCE": "0"}, (False, ["-x"])),
    ],
)
def test_split_force(args, environ, expected):
    assert fingerprint.split_force(args, environ) == expected


def test_the_real_tree_fingerprints_without_touching_it():
    cat = catalog.load()
    service = cat.service(SERVICE)
    first = fingerprint.fingerprint(cat, service, "tests", image_id=Images())
    assert first == fingerprint.fingerprint(cat, service, "tests", image_id=Images())
