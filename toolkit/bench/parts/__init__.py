"""The benchmark's parts: every module of this package declares `PARTS`, a tuple of
toolkit.bench.part.Part (one figure family, or a few measured in one step).

Adding a figure is adding a module here: nothing else names the parts. `PARTS` is every part in
running order (each part's `order`), `SECTIONS` the results document's sections they fill.
Code that reads the parts reads them through this module at call time (`parts.PARTS`), so a
test may replace them.
"""

from __future__ import annotations

import importlib
import pkgutil

from toolkit.bench.part import Part


def _discover() -> tuple[Part, ...]:
    found: list[Part] = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        found += getattr(module, "PARTS", ())
    names = [p.name for p in found]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise RuntimeError(f"benchmark parts declared twice: {', '.join(duplicated)}")
    return tuple(sorted(found, key=lambda p: p.order))


PARTS: tuple[Part, ...] = _discover()
SECTIONS: tuple[str, ...] = tuple(dict.fromkeys(s for p in PARTS for s in p.sections))


def names() -> tuple[str, ...]:
    return tuple(p.name for p in PARTS)


def get(name: str) -> Part:
    return next(p for p in PARTS if p.name == name)


def in_report_order() -> list[Part]:
    """The parts as the report shows them (running order, unless a part says otherwise)."""
    return sorted(PARTS, key=lambda p: p.rank)
