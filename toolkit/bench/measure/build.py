"""Build-time benchmark: our builds timed through compose, beside the seed-strategy baseline's
(toolkit/bench/measure/seed_strategy.py) in the same run.

Cases (toolkit/bench/parts/build.py has the shapes): `cold_wheelhouse` (no layer cache, wheelhouse
complete), `cold_online` (no layer cache, no wheelhouse: the index), `warm` (nothing changed)
and `source_change` (one new line in the service's `app/main.py`). Our builds run exactly as
`inv build` does; the ones that need a different tree (no wheelhouse, a changed source) build
from a temporary copy through a compose override, so the user's checkout is never touched.
`measure` builds both sides in turns, round after round; each build's log is kept in
.cache/build-logs/ and checked for what its case must show.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import docker.errors
import yaml

from toolkit import images, names, stack, wheels
from toolkit.bench import results
from toolkit.bench.measure import seed_strategy
from toolkit.bench.measure.build_tools import IGNORED, Progress, compose_build, link
from toolkit.bench.part import tier_weight
from toolkit.catalog import ROOT, Service
from toolkit.console import console
from toolkit.errors import ToolkitError

CASES = ("cold_wheelhouse", "cold_online", "warm", "source_change")  # also the build order
QUICK_CASES = ("cold_wheelhouse", "warm", "source_change")  # no index needed
SIDES = ("ours", "baseline")
# What a build log must show for a cold case to have measured what its name says.
EVIDENCE = {
    ("ours", "cold_wheelhouse"): "from the wheelhouse, no index used",
    ("ours", "cold_online"): "pinned packages from the index",
    ("baseline", "cold_wheelhouse"): "seed-strategy: installed from the wheels folder",
    ("baseline", "cold_online"): "seed-strategy: installed with poetry from the index",
}
# Seconds per build of a tier-1 service on a 2-core machine (measured, rounded up), used until
# a result file exists.
GUESS = {
    "ours": {"cold_wheelhouse": 10, "cold_online": 10, "warm": 1, "source_change": 2},
    "baseline": {"cold_wheelhouse": 12, "cold_online": 40, "warm": 1, "source_change": 2},
}


# ---- our build trees and compose files (all in a temporary directory) ------------------------


def copy_tree(source: Path, dest: Path, wheelhouse: bool) -> Path:
    """A copy of the repository as a build context: no .git, .venv or caches; the wheelhouse
    hard-linked (BuildKit sends a link's content; a symlink would point out of the context),
    or, with wheelhouse=False, present but empty as in a fresh clone."""
    shutil.copytree(
        source,
        dest,
        ignore=shutil.ignore_patterns(*IGNORED, "wheelhouse"),
        symlinks=True,
    )
    (dest / "wheelhouse").mkdir()
    for path in (source / "wheelhouse").glob("*"):
        if path.is_file() and (wheelhouse or path.name == "README.md"):
            link(path, dest / "wheelhouse" / path.name)
    return dest


def ours_override(service: Service, context: Path, tag: str) -> dict:
    """Compose override: the service's own build definition, from another context and tag."""
    return {
        "services": {
            service.name: {
                "build": {"context": str(context)},
                "image": f"{names.PROJECT}/{service.name}:{tag}",
            }
        }
    }


def change_source(main: Path, token: str) -> Path:
    """The one-line source change: a new line at the end of app/main.py (in a copy)."""
    with main.open("a") as handle:
        handle.write(f"# benchmark source change {token}\n")
    return main


# ---- estimates ----------------------------------------------------------------------------


def estimate(
    services: list[Service],
    rounds: int = 3,
    cases: tuple[str, ...] = CASES,
    baseline: bool = True,
    previous: dict | None = None,
) -> float:
    """Expected seconds: medians of an earlier run where it has them, else a rough guess."""
    total = 0.0
    for service in services:
        for side in SIDES if baseline else ("ours",):
            figures = ((previous or {}).get("build" if side == "ours" else side) or {}).get(
                service.name, {}
            )
            for case in cases:
                known = figures.get(case, {}).get("median")
                guess = GUESS[side][case] * tier_weight(service.tier)
                total += rounds * (known if known is not None else guess)
        total += 10  # size and sanity checks, the untimed build that refreshes the image
    return total


# ---- building and timing --------------------------------------------------------------------


def printed(log: Path, text: str) -> bool:
    """Whether a build step printed `text` (BuildKit's plain output: `#12 3.456 text`), as
    opposed to the step's command line merely containing it."""
    pattern = re.compile(r"^#\d+ \d+\.\d+ .*" + re.escape(text), re.MULTILINE)
    return pattern.search(log.read_text(errors="replace")) is not None


def _check(log: Path, service: Service, side: str, case: str, progress: Progress) -> None:
    for (where, cold), evidence in EVIDENCE.items():
        if where != side:
            continue
        shown = printed(log, evidence)
        if cold == case and not shown:
            raise ToolkitError(
                f"{service.name} ({side}, {case}): the build log lacks {evidence!r}, so it did "
                "not measure what the case says",
                f"read {log}",
            )
        if case in ("warm", "source_change") and shown:
            progress(
                f"[yellow]note:[/] {service.name} ({side}, {case}) installed dependencies "
                f"again: the layer cache was not used (log: {log})"
            )


class ServiceBench:
    """One service's trees, compose files and logs for the length of a run; `baseline` makes
    the seed strategy's side of it (seed_strategy.SeedBuilds) when that is measured too."""

    def __init__(
        self,
        service: Service,
        workdir: Path,
        cases: tuple[str, ...],
        baseline: Callable[[Service, Path, tuple[str, ...]], seed_strategy.SeedBuilds] | None,
    ):
        self.service = service
        self.workdir = workdir
        self.logs = stack.BUILD_LOG_DIR
        workdir.mkdir(parents=True)
        self.argv: dict[str, list[str]] = {}
        if "source_change" in cases:
            tree = copy_tree(ROOT, workdir / "tree", wheelhouse=True)
            self.argv["source"] = stack.cli(self._write("source", tree)).argv()
            self.source = tree / "services" / service.name / "app" / "main.py"
        if "cold_online" in cases:
            bare = copy_tree(ROOT, workdir / "bare", wheelhouse=False)
            self.argv["online"] = stack.cli(self._write("online", bare)).argv()
        self.seed = baseline(service, workdir, cases) if baseline else None

    def _write(self, variant: str, tree: Path) -> Path:
        path = self.workdir / f"ours-{variant}.yaml"
        path.write_text(yaml.safe_dump(ours_override(self.service, tree, "bench")))
        return path

    def build(self, side: str, case: str, label: str) -> tuple[float, Path]:
        """One timed build; `label` names it in errors. A cold case's log must prove its path."""
        name = self.service.name
        log = self.logs / f"bench-{name}-{side}-{case}.log"
        what = f"benchmark of {name} ({side}, {case}, {label})"
        if case == "source_change":
            token = uuid.uuid4().hex[:12]
            change_source(self.source if side == "ours" else self.seed.source, token)
        if side == "ours" and case in ("cold_wheelhouse", "warm"):
            try:
                seconds = stack.build([self.service], cache=case == "warm")[name]
            except ToolkitError as exc:
                raise ToolkitError(f"{what}: {exc.problem}", exc.fix) from None
            shutil.copyfile(self.logs / f"{name}-production.log", log)
        elif side == "ours":
            argv = self.argv["source" if case == "source_change" else "online"]
            seconds = compose_build(argv, name, case == "source_change", log, what)
        else:
            seconds = self.seed.build(case, log, what)
        return seconds, log

    def refresh(self, side: str) -> None:
        """An untimed cached build, so the image that gets measured is the current one."""
        if side == "ours":
            stack.build([self.service])
        else:
            self.seed.refresh(self.logs / f"bench-{self.service.name}-baseline-refresh.log")


def image_mb(tag: str) -> float:
    try:
        return round(stack.client().images.get(tag).attrs["Size"] / 1e6, 1)
    except docker.errors.ImageNotFound:
        raise ToolkitError(
            f"image {tag} not found after its build", "rerun the benchmark"
        ) from None


def _prepare(services: list[Service], progress: Progress) -> None:
    if images.missing():
        images.ensure_all()
    wheels.fill(services, progress=progress)
    problems = {n: p for n, p in wheels.verify(services).items() if p}
    if problems:
        name, issues = next(iter(problems.items()))
        raise ToolkitError(f"wheelhouse incomplete for {name}: {issues[0]}", "run `inv wheels`")


def _remove(tags: list[str]) -> None:
    for tag in tags:
        with contextlib.suppress(docker.errors.APIError):  # absent, or in use: leave it
            stack.client().images.remove(tag)


def measure(
    services: list[Service],
    rounds: int = 3,
    cases: tuple[str, ...] = CASES,
    baseline: bool = True,
    progress: Progress = console.print,
) -> tuple[dict, dict]:
    """Time each case `rounds` times per service, ours and (with baseline) the seed strategy's,
    interleaved; returns the `build` and `baseline` sections of a results document."""
    unknown = [c for c in cases if c not in CASES]
    if unknown or not cases:
        raise ToolkitError(f"unknown build case(s) {unknown}", f"choose from {', '.join(CASES)}")
    if rounds < 1:
        raise ToolkitError(f"rounds must be at least 1, got {rounds}", "pass --rounds 1 or more")
    order = tuple(c for c in CASES if c in cases)
    sides = SIDES if baseline else ("ours",)
    found = results.previous_run()
    expected = estimate(services, rounds, order, baseline, found[0] if found else None)
    basis = f"medians of {found[1]}" if found else "a rough guess per build"
    total = len(services) * len(sides) * len(order) * rounds
    progress(
        f"build benchmark: {len(services)} service(s), {', '.join(order)}, {rounds} round(s), "
        f"{'ours and the seed-strategy baseline' if baseline else 'ours only'}: {total} timed "
        f"builds, about {max(1, round(expected / 60))} min ({basis}) after preparation"
    )
    _prepare(services, progress)
    if baseline:
        seed_strategy.prepare(services, progress)
    build: dict[str, dict] = {}
    base: dict[str, dict] = {}
    workdir = Path(tempfile.mkdtemp(prefix="tiered-bench-"))
    started = time.perf_counter()
    done = 0
    try:
        for service in services:
            seed = seed_strategy.SeedBuilds if baseline else None
            bench = ServiceBench(service, workdir / service.name, order, seed)
            samples = {side: {case: [] for case in order} for side in sides}
            if not {"warm", "source_change"}.isdisjoint(order) and "cold_wheelhouse" not in order:
                for side in sides:  # warm figures need a cache to be warm from
                    bench.refresh(side)
            for number in range(rounds):
                # Alternate who goes first, so neither side always meets a warmer machine.
                ordered = sides if number % 2 == 0 else tuple(reversed(sides))
                for case in order:
                    for side in ordered:
                        label = f"round {number + 1}/{rounds}"
                        seconds, log = bench.build(side, case, label)
                        _check(log, service, side, case, progress)
                        samples[side][case].append(seconds)
                        done += 1
                        elapsed = (time.perf_counter() - started) / 60
                        progress(
                            f"[{done}/{total}] {service.name} {side} {case} {label}: "
                            f"{seconds:.1f} s ({elapsed:.1f} min so far)"
                        )
            tags = {"ours": f"{names.PROJECT}/{service.name}:latest"}
            for side in sides:
                bench.refresh(side)
            build[service.name] = {c: results.summary(s) for c, s in samples["ours"].items()}
            build[service.name]["image_mb"] = image_mb(tags["ours"])
            if baseline:
                tags.update(seed_strategy.image_tags(service, order))
                base[service.name] = {c: results.summary(s) for c, s in samples["baseline"].items()}
                base[service.name]["image_mb"] = image_mb(tags["baseline"])
                seed_strategy.check_images(service, tags, progress)
            progress(
                f"{service.name}: image {build[service.name]['image_mb']} MB"
                + (f", baseline {base[service.name]['image_mb']} MB" if baseline else "")
            )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        for service in services:
            name = service.name
            _remove(
                [f"{names.PROJECT}/{name}:bench", f"{seed_strategy.SEED_PROJECT}/{name}:online"]
            )
    return build, base
