"""Atomic JSON writes: the target holds the old content or the new, and no temp file stays."""

import json

import pytest

from app.core.files import read_json, write_json_atomic


def test_replaces_the_content_and_leaves_no_temporary(tmp_path) -> None:
    target = tmp_path / "state.json"
    write_json_atomic(target, {"active": 1})
    write_json_atomic(target, {"active": 2, "history": [1]})
    assert read_json(target) == {"active": 2, "history": [1]}
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_a_failed_write_keeps_the_old_content(tmp_path) -> None:
    target = tmp_path / "state.json"
    write_json_atomic(target, {"active": 1})
    with pytest.raises(TypeError):
        write_json_atomic(target, {"active": object()})  # not serialisable: fails mid-write
    assert json.loads(target.read_text()) == {"active": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]
