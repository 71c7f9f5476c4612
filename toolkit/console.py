"""Terminal output: one console, tables, and progress for long steps."""

import contextlib
import time
from collections.abc import Iterable, Iterator, Sequence

from rich.console import Console
from rich.table import Table

console = Console(highlight=False)


def table(title: str, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> Table:
    """A readable table; every command ends with one."""
    result = Table(title=title, title_justify="left", header_style="bold")
    for column in columns:
        result.add_column(column)
    for row in rows:
        result.add_row(*("" if cell is None else str(cell) for cell in row))
    return result


@contextlib.contextmanager
def step(message: str) -> Iterator[dict]:
    """Show a spinner while a long step runs, then its duration (or that it failed)."""
    outcome: dict = {}
    started = time.perf_counter()
    try:
        with console.status(message):
            yield outcome
    except BaseException:
        console.print(f"[red]✗[/] {message} ({time.perf_counter() - started:.1f}s)")
        raise
    note = f" — {outcome['note']}" if outcome.get("note") else ""
    console.print(f"[green]✓[/] {message} ({time.perf_counter() - started:.1f}s){note}")


def mb(size_bytes: int | float) -> str:
    return f"{size_bytes / 1_000_000:.0f} MB"
