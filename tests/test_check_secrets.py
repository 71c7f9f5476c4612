"""scripts/check-secrets.py: secrets are found, names of things are not (the pre-commit hook)."""

from __future__ import annotations

import importlib.util

from toolkit.catalog import ROOT

spec = importlib.util.spec_from_file_location("check_secrets", ROOT / "scripts/check-secrets.py")
check_secrets = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check_secrets)


def found(line: str) -> list[str]:
    return [what for _, what in check_secrets.findings("app/x.py", line)]


def test_a_value_set_by_call_or_assignment_is_found():
    assert found('os.environ.setdefault("JWT_SECRET", "aB3dE5gH7jK9mN1pQ")')
    assert found('JWT_SECRET = "aB3dE5gH7jK9mN1pQ"')
    assert found('{"api_key": "aB3dE5gH7jK9mN1pQ"}')


def test_a_tuple_naming_a_key_variable_and_a_model_is_not_a_secret():
    # ai-provider's registry: (key variable, model id, litellm model). Flagged before, so the
    # hooks failed on a fresh clone.
    assert not found('    ("OPENAI_API_KEY", "gpt-4o-mini", "openai/gpt-4o-mini"),')
    assert not found('    ("GEMINI_API_KEY", "gemini-2.5-flash", "gemini/gemini-2.5-flash"),')


def test_the_committed_tree_is_clean():
    import subprocess

    files = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert check_secrets.check(files, from_index=False) == []
