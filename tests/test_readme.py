"""Every command the README shows works as written: its set-up commands are the ones CI runs,
each `inv` line parses with the flags and values shown (nothing is executed), each nox
session exists and says one whole sentence in `nox --list`, and the bench flags parse."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from invoke import Collection, Program
from invoke.exceptions import ParseError

from tests.test_tasks import tasks
from toolkit.bench import cli as bench_cli
from toolkit.catalog import ROOT

README = (ROOT / "README.md").read_text()
# Placeholders the README uses, and a real value for each.
PLACEHOLDERS = {
    "N": "1",
    "P": "core",
    "T": "production",
    "SERVICE": "api-gateway",
    "FILE": "benchmarks/results/x.json",
    "a,b": "api-gateway,user-service",
    "a b": "api-gateway user-service",
}


def table_commands() -> list[str]:
    """The backticked commands of the README's command table, one string each."""
    section = README.split("## Commands", 1)[1].split("\n## ", 1)[0]
    commands = []
    for row in section.splitlines():
        if not row.startswith("| `"):
            continue
        first_cell = row.split(" | ", 1)[0]
        commands += re.findall(r"`([^`]+)`", first_cell)
    return commands


def concrete(command: str) -> list[list[str]]:
    """argv lists for a README form: every alternative of `a\\|b` once, optional parts in."""
    command = command.replace("\\|", "|")
    variants = [command]
    # `[-- --tier N | --services a b]` -> one variant per alternative
    while any("|" in v for v in variants):
        expanded = []
        for variant in variants:
            match = re.search(r"\[([^\[\]]*\|[^\[\]]*)\]|(\S+\|\S+)", variant)
            if not match:
                expanded.append(variant)
                continue
            body = match.group(1) or match.group(2)
            for option in body.split("|"):
                replacement = f"[{option.strip()}]" if match.group(1) else option.strip()
                expanded.append(variant[: match.start()] + replacement + variant[match.end() :])
        variants = expanded
    result = []
    for variant in variants:
        variant = variant.replace("[", " ").replace("]", " ")
        for placeholder in sorted(PLACEHOLDERS, key=len, reverse=True):
            variant = re.sub(
                rf"(?<![\w-]){re.escape(placeholder)}(?![\w-])", PLACEHOLDERS[placeholder], variant
            )
        result.append(variant.split())
    return result


def parse_inv(argv: list[str]) -> None:
    """Parse an `inv` command line exactly as `inv` would, without running any task."""
    program = Program(namespace=Collection.from_module(tasks), binary="inv")
    program.create_config()
    program.parse_core(["inv", *argv])
    program.parse_collection()
    program.parse_tasks()
    assert [call.name for call in program.tasks] == [argv[0]]


def test_the_setup_commands_are_the_two_the_readme_names_and_ci_runs():
    setup = README.split("## Set up on a fresh machine", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"(?m)^    (\S.*)$", setup)
    assert commands == [
        "bash scripts/bootstrap.sh && .venv/bin/inv up --profile full",
        "bash scripts/bootstrap.sh && .venv/bin/nox -t ci",
    ]
    assert commands[1] in (ROOT / ".ci" / "run").read_text()
    parse_inv(commands[0].split(".venv/bin/inv ", 1)[1].split())


INV_FORMS = [c for c in table_commands() if c.startswith("inv ")]


@pytest.mark.parametrize("command", INV_FORMS)
def test_each_inv_command_parses_as_written(command):
    for argv in concrete(command):
        try:
            parse_inv(argv[1:])
        except ParseError as exc:
            pytest.fail(f"README's `{command}` ({' '.join(argv)}) does not parse: {exc}")


def test_list_flags_take_several_values_as_shown(monkeypatch):
    seen = {}
    # `inv wheels --services a,b` selects both services, before Docker is touched.
    selected = tasks.services_of(None, PLACEHOLDERS["a,b"])
    seen["wheels"] = [s.name for s in selected]
    assert seen["wheels"] == ["api-gateway", "user-service"]


@pytest.fixture(scope="module")
def nox_list() -> str:
    env = {**os.environ, "COLUMNS": "400", "NO_COLOR": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "nox", "--list"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return result.stdout


def test_each_nox_session_the_readme_shows_exists(nox_list):
    sessions = set(re.findall(r"(?m)^[*-] (\w+)", nox_list))
    for command in (c for c in table_commands() if c.startswith("nox ")):
        for argv in concrete(command):
            name = argv[argv.index("-s") + 1].strip("\"'").split("(")[0]
            assert name in sessions, f"README's `{command}`: no nox session {name!r}"


def test_nox_list_shows_one_whole_sentence_per_session(nox_list):
    lines = re.findall(r"(?m)^[*-] (\S+)(?: \[[^\]]*\])? -> (.*)$", nox_list)
    assert len(lines) >= 10
    for name, description in lines:
        assert description.endswith("."), f"{name}: cut short: {description!r}"


def test_bench_flags_parse_as_written():
    for command in (c for c in table_commands() if c.startswith("nox -s bench")):
        for argv in concrete(command):
            if "--" in argv:
                bench_cli.parse_args(argv[argv.index("--") + 1 :])


def test_precommit_is_in_the_venv_and_configured():
    assert any(c.startswith("pre-commit run") for c in table_commands())
    assert (ROOT / ".venv" / "bin" / "pre-commit").is_file()
    assert (ROOT / ".pre-commit-config.yaml").is_file()


def test_every_command_a_message_suggests_exists():
    # Fixes and hints the toolkit prints name commands: each `inv X --flag` names a task X
    # that has that flag (what a message says to run must exist: `inv images --prune` did not).
    text = "\n".join(p.read_text() for p in (ROOT / "toolkit").rglob("*.py"))
    text += (ROOT / "tasks.py").read_text()
    suggested = set(re.findall(r"`(inv [a-z][^`]*)`", text))
    assert len(suggested) > 10, "the pattern finds no suggestions"
    namespace = Collection.from_module(tasks)
    for command in sorted(suggested):
        name, *rest = command.split()[1:]
        assert name in namespace.tasks, f"a message suggests `{command}`: no task {name!r}"
        flags = {
            f"--{n.replace('_', '-')}"
            for a in namespace[name].get_arguments()
            for n in a.names
            if len(n) > 1
        }
        for token in rest:
            flag = token.split("=", 1)[0]
            if flag.startswith("--"):
                assert flag in flags, f"a message suggests `{command}`: {name} has no {flag}"
