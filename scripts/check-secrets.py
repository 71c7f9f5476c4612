#!/usr/bin/env python3
"""Refuse to commit a secret: private keys, AWS-style keys, high-entropy values assigned to
*_SECRET / *_PASSWORD / *_TOKEN (and the like), and env files (.env, compose.env).

Usage: check-secrets.py [FILE ...]  (pre-commit passes the staged files; with no argument the
staged files are read from git's index, so what is checked is what would be committed).

A deliberate fake on one line is allowed with a trailing `pragma: allowlist secret` comment.
The allowlist for fixtures: test code (any path with a `tests/` or `test/` directory) assigns
fake passwords, tokens and JWT secrets by design, so assignments are not checked there; private
keys, AWS keys and env files are refused there too.
Standard library only: it runs offline, with whatever Python pre-commit finds.
"""

from __future__ import annotations

import math
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import PurePosixPath

PRAGMA = "pragma: allowlist secret"
ENV_FILE_NAMES = {".env", "compose.env"}
ENV_FILE_ALLOWED_SUFFIXES = (".example", ".sample", ".template", ".dist")
KEY_FILE_NAMES = {"id_rsa", "id_dsa", "id_ecdsa", "id_ed25519"}
TEST_DIRS = {"tests", "test"}
MIN_LENGTH = 16
MIN_ENTROPY = 3.0  # bits per character

PRIVATE_KEY = re.compile(
    r"-----BEGIN ((RSA|DSA|EC|OPENSSH|ENCRYPTED|PGP) )?PRIVATE KEY( BLOCK)?-----"
)
AWS_ACCESS_KEY = re.compile(r"\b(AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}\b")
AWS_SECRET_KEY = re.compile(
    r"(?i)aws_?secret_?access_?key[\"']?\s*[:=]\s*[\"']?([A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])"
)
# NAME = value, NAME: value, "NAME": "value", NAME=value; setdefault("NAME", "value") (after a
# comma only a quoted value counts: `sign(claims, secret, algorithm=X)` is code, not a value).
ASSIGNMENT = re.compile(
    r"""(?ix)
    (?P<name>[a-z0-9_.-]*(?:secret|password|passwd|pwd|token|api_?key|private_?key|credential)s?)
    ["']?\s*(?:(?:=|:)\s*(?P<quote>[\"'`]?)|,\s*(?P<quoted>[\"'`]))
    (?P<value>[^\s\"'`,;()\[\]{}]+)
    """
)

# The comma form is a value only as a call's second argument: setdefault("NAME", "value").
CALL_BEFORE = re.compile(r"\w\(\s*[\"']?$")


def entropy(text: str) -> float:
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def looks_secret(value: str) -> bool:
    """A literal that could be a credential: long, varied, and not a reference to one."""
    if len(value) < MIN_LENGTH or entropy(value) < MIN_ENTROPY:
        return False
    if value.startswith(("$", "%(", "<", "{")) or "{{" in value or "${" in value:
        return False  # a variable, template or placeholder, not a value
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+", value):
        return False  # settings.jwt_secret, os.environ.get
    has_digit = any(c.isdigit() for c in value)
    mixed_case = any(c.islower() for c in value) and any(c.isupper() for c in value)
    return has_digit or mixed_case  # words-and-dashes (x-internal-token) are names, not keys


def in_tests(path: str) -> bool:
    return any(part in TEST_DIRS for part in PurePosixPath(path).parts[:-1])


def name_problem(path: str) -> str | None:
    name = PurePosixPath(path).name
    if name in ENV_FILE_NAMES or (
        name.startswith(".env.") and not name.endswith(ENV_FILE_ALLOWED_SUFFIXES)
    ):
        return "an env file (it holds secrets: keep it out of the repository)"
    if name in KEY_FILE_NAMES:
        return "a private key file"
    return None


def findings(path: str, text: str) -> Iterator[tuple[int, str]]:
    """(line number, what) for each suspected secret in a file's text."""
    fixtures = in_tests(path)
    for number, line in enumerate(text.splitlines(), 1):
        if PRAGMA in line:
            continue
        if PRIVATE_KEY.search(line):
            yield number, "private key"
        if AWS_ACCESS_KEY.search(line):
            yield number, "AWS access key id"
        if AWS_SECRET_KEY.search(line):
            yield number, "AWS secret access key"
        if fixtures:
            continue
        for match in ASSIGNMENT.finditer(line):
            value = match.group("value")
            if not match.group("quote") and not match.group("quoted") and "=" in value.rstrip("="):
                continue  # unquoted `a=b` is code (keyword arguments), not a value
            if match.group("quoted") and not CALL_BEFORE.search(line[: match.start()]):
                continue  # ("OPENAI_API_KEY", "gpt-4o-mini") is a tuple of names, not a call
            if looks_secret(value):
                yield number, f"high-entropy value assigned to {match.group('name')}"


def _git(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], capture_output=True, check=False)


def staged_files() -> list[str]:
    result = _git("diff", "--cached", "--name-only", "--diff-filter=ACMR", "-z")
    return [name for name in result.stdout.decode().split("\0") if name]


def read(path: str, from_index: bool) -> bytes | None:
    if from_index:
        result = _git("show", f":{path}")
        return result.stdout if result.returncode == 0 else None
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except (FileNotFoundError, IsADirectoryError):
        return None


def check(paths: list[str], from_index: bool) -> list[str]:
    problems = []
    for path in paths:
        if why := name_problem(path):
            problems.append(f"{path}: {why}")
            continue
        data = read(path, from_index)
        if data is None or b"\0" in data[:8192]:
            continue  # gone, or binary
        text = data.decode("utf-8", errors="replace")
        problems += [f"{path}:{number}: {what}" for number, what in findings(path, text)]
    return problems


def main(argv: list[str]) -> int:
    from_index = not argv
    paths = argv or staged_files()
    problems = check(paths, from_index)
    for problem in problems:
        print(problem)
    if problems:
        print(
            f"\n{len(problems)} possible secret(s) (values not shown). Remove them and rotate "
            "any real credential; a deliberate fake may stay with a trailing comment "
            f"`{PRAGMA}` on its line.",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
