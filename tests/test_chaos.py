"""toolkit.chaos without Docker: how a fault's outcome is counted and judged."""

from __future__ import annotations

import pytest

from toolkit import chaos


def test_an_outcome_passes_only_with_nothing_lost_or_doubled_and_a_recovery():
    good = chaos.Outcome("f", "t", acknowledged=10, stored=10, recovery_s=2.0)
    assert good.ok
    assert not chaos.Outcome("f", "t", acknowledged=10, stored=9, lost=1, recovery_s=2.0).ok
    assert not chaos.Outcome("f", "t", acknowledged=10, stored=11, duplicated=1, recovery_s=2).ok
    assert not chaos.Outcome("f", "t", acknowledged=10, stored=10, recovery_s=None).ok
    # A load that acknowledged nothing proved nothing.
    assert not chaos.Outcome("f", "t", acknowledged=0, stored=0, recovery_s=2.0).ok


def test_ticks_are_counted_per_request_range_by_clickhouse(monkeypatch):
    load = chaos.TickLoad(None, {}, "CHX", requests=3, ticks_per_request=5, base_ms=1000)
    load.accepted = {0: 5, 2: 5}  # request 1 failed: never acknowledged
    # ClickHouse holds request 0 once, request 1 (stored though unanswered), request 2 twice
    # for one tick and missing another.
    rows = "0\t5\t5\n1\t5\t5\n2\t5\t4\n"
    monkeypatch.setattr(chaos.load, "clickhouse_scalar", lambda query: rows)
    acknowledged, lost, duplicated = load.count()
    assert acknowledged == 10
    assert lost == 1  # request 2: 5 acknowledged, 4 distinct ticks stored
    assert duplicated == 1


def test_each_request_gets_its_own_time_range():
    load = chaos.TickLoad(None, {}, "CHX", requests=2, ticks_per_request=3, base_ms=0)
    first, second = load.body(0)["ticks"], load.body(1)["ticks"]
    assert [t["ts_ms"] for t in first] == [0, 1, 2]
    assert second[0]["ts_ms"] == chaos.RANGE_MS
    assert load.body(0)["source"] == "chaos:chx"


def test_the_table_shows_every_fault():
    text = chaos.render_table([chaos.Outcome("SIGKILL x", "x", 1000, 1000, 0, 0, 3, 2.5, 1)])
    assert "| SIGKILL x | 1,000 | 1,000 | 0 | 0 | 3 | 2.5 s | 1 |" in text


def test_an_unknown_fault_is_refused(capsys):
    assert chaos.main(["--faults", "nope"]) == 2
    assert "unknown fault 'nope'" in capsys.readouterr().out


@pytest.mark.parametrize("name", sorted(chaos.FAULTS))
def test_every_fault_is_named_for_the_command_line(name):
    assert name == name.lower() and " " not in name
