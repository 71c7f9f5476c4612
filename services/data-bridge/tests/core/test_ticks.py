"""Tick validation: every malformed tick is refused with one reason, never an exception."""

import math

import pytest

from app.core.ticks import SymbolLimitError, SymbolRegistry, Tick, TickValidator, parse_tick


@pytest.fixture
def validator() -> TickValidator:
    return TickValidator(SymbolRegistry(["EURUSD", "GOOG"], limit=10), tolerance_ms=1000)


def test_normalizes_symbol_timestamp_and_numbers(validator: TickValidator) -> None:
    assert validator.check(
        {"symbol": " eurusd ", "ts": "2017-04-19T09:00:00", "price": "1.07", "volume": 3}
    ) == Tick("EURUSD", 1492592400000, 1.07, 3.0)
    assert validator.check({"symbol": "GOOG", "ts": 1492592401.5, "price": 2}) == Tick(
        "GOOG", 1492592401500, 2.0, 0.0
    )
    assert validator.check(
        {"symbol": "eurusd", "ts": "2017-04-19T11:00:00+02:00", "price": 2, "volume": None}
    ) == Tick("EURUSD", 1492592400000, 2.0, 0.0)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (5, "malformed"),
        ([], "malformed"),
        ({"ts_ms": 1, "price": 1}, "malformed"),
        ({"symbol": "GOOG", "price": 1}, "malformed"),
        ({"symbol": "GOOG", "ts_ms": 1}, "malformed"),
        ({"symbol": 7, "ts_ms": 1, "price": 1}, "malformed"),
        ({"symbol": "GOOG", "ts_ms": True, "price": 1}, "malformed"),
        ({"symbol": "GOOG", "ts_ms": 1, "price": "cheap"}, "malformed"),
        ({"symbol": "GOOG", "ts_ms": 1, "price": [1]}, "malformed"),
        ({"symbol": "GOOG", "ts": "yesterday", "price": 1}, "malformed"),
        ({"symbol": "GO OG", "ts_ms": 1, "price": 1}, "invalid_symbol"),
        ({"symbol": "A" * 17, "ts_ms": 1, "price": 1}, "invalid_symbol"),
        ({"symbol": "GOOG", "ts_ms": 1, "price": math.nan}, "not_finite"),
        ({"symbol": "GOOG", "ts_ms": 1, "price": "inf"}, "not_finite"),
        ({"symbol": "GOOG", "ts_ms": 1, "price": 1, "volume": -math.inf}, "not_finite"),
        ({"symbol": "GOOG", "ts_ms": math.nan, "price": 1}, "not_finite"),
        ({"symbol": "GOOG", "ts_ms": 1, "price": 0}, "non_positive_price"),
        ({"symbol": "GOOG", "ts_ms": 1, "price": -2.5}, "non_positive_price"),
        ({"symbol": "GOOG", "ts_ms": 1, "price": 1, "volume": -1}, "negative_volume"),
        ({"symbol": "GOOG", "ts_ms": -5, "price": 1}, "bad_timestamp"),
        ({"symbol": "GOOG", "ts_ms": 5_000_000_000_000, "price": 1}, "bad_timestamp"),
        ({"symbol": "TSLA", "ts_ms": 1, "price": 1}, "unknown_symbol"),
    ],
)
def test_rejects_with_reason(validator: TickValidator, raw: object, reason: str) -> None:
    assert validator.check(raw) == reason


def test_out_of_order_beyond_tolerance_per_symbol(validator: TickValidator) -> None:
    base = 1_600_000_000_000
    assert isinstance(validator.check({"symbol": "GOOG", "ts_ms": base, "price": 1}), Tick)
    # Within the tolerance: accepted, and the watermark does not move back.
    assert isinstance(validator.check({"symbol": "GOOG", "ts_ms": base - 1000, "price": 1}), Tick)
    assert validator.check({"symbol": "GOOG", "ts_ms": base - 1001, "price": 1}) == "out_of_order"
    # Another symbol has its own clock.
    assert isinstance(validator.check({"symbol": "EURUSD", "ts_ms": 1, "price": 1}), Tick)
    assert validator.watermarks == {"GOOG": base, "EURUSD": 1}


def test_rejected_ticks_do_not_move_the_watermark(validator: TickValidator) -> None:
    assert validator.check({"symbol": "GOOG", "ts_ms": 10_000, "price": -1}) == (
        "non_positive_price"
    )
    assert isinstance(validator.check({"symbol": "GOOG", "ts_ms": 1, "price": 1}), Tick)


def test_registry_grows_to_its_limit_only() -> None:
    registry = SymbolRegistry(["GOOG"], limit=3)
    assert registry.declare(["aapl", "GOOG"]) == ["AAPL", "GOOG"]
    assert "AAPL" in registry
    with pytest.raises(SymbolLimitError):
        registry.declare(["MSFT", "TSLA"])
    with pytest.raises(ValueError, match="does not match"):
        registry.declare(["bad symbol"])
    assert len(registry) == 2


def test_parse_tick_ignores_known_symbols() -> None:
    assert parse_tick({"symbol": "ANY", "ts_ms": 1.4, "price": 1}) == Tick("ANY", 1, 1.0, 0.0)


NOW_MS = 1_750_000_000_000


def clocked(max_future_ms: int = 60_000) -> TickValidator:
    """A validator whose clock stands still at NOW_MS."""
    registry = SymbolRegistry(["GOOG"], limit=10)
    return TickValidator(
        registry, tolerance_ms=1000, max_future_ms=max_future_ms, clock=lambda: NOW_MS / 1000
    )


def test_a_live_tick_from_the_future_is_refused_and_moves_no_watermark() -> None:
    validator = clocked()
    year_2099 = 4_070_908_800_000  # 2099-01-01: a valid timestamp, 74 years ahead
    assert validator.check({"symbol": "GOOG", "ts_ms": year_2099, "price": 1}) == "future"
    assert validator.check({"symbol": "GOOG", "ts_ms": NOW_MS + 60_001, "price": 1}) == "future"
    assert validator.watermarks == {}
    # Real ticks still flow; a clock up to MAX_FUTURE_MS ahead of ours is tolerated.
    assert isinstance(validator.check({"symbol": "GOOG", "ts_ms": NOW_MS, "price": 1}), Tick)
    ahead = validator.check({"symbol": "GOOG", "ts_ms": NOW_MS + 60_000, "price": 1})
    assert isinstance(ahead, Tick) and validator.watermarks == {"GOOG": NOW_MS + 60_000}


def test_the_clock_rule_comes_after_the_shape_checks() -> None:
    validator = clocked(max_future_ms=0)
    assert validator.check({"symbol": "GOOG", "ts_ms": NOW_MS + 1, "price": -1}) == (
        "non_positive_price"
    )
    assert validator.check({"symbol": "GOOG", "ts_ms": 5_000_000_000_000, "price": 1}) == (
        "bad_timestamp"
    )
    assert validator.check({"symbol": "GOOG", "ts_ms": NOW_MS + 1, "price": 1}) == "future"


def test_replayed_ticks_keep_their_own_time() -> None:
    # admit() serves replays: their ticks carry the series' times, whatever our clock says.
    validator = clocked(max_future_ms=0)
    assert validator.admit(Tick("GOOG", NOW_MS + 3_600_000, 1.0, 0.0)) is None
    assert validator.admit(Tick("GOOG", 1_000, 1.0, 0.0)) == "out_of_order"
    assert validator.watermarks == {"GOOG": NOW_MS + 3_600_000}


def test_declared_symbols_survive_a_restart(tmp_path):
    # A symbol a replay or feed declared is known after data-bridge restarts; before, a
    # restart turned every later tick of it into unknown_symbol.
    path = tmp_path / "symbols.json"
    first = SymbolRegistry(["GOOG"], limit=10, path=path)
    first.declare(["abc1"])
    again = SymbolRegistry(["GOOG"], limit=10, path=path)
    assert "ABC1" in again and "GOOG" in again
    assert not list(tmp_path.glob(".*.tmp"))


def test_an_unreadable_symbols_file_is_not_fatal(tmp_path):
    path = tmp_path / "symbols.json"
    path.write_text("{not json")
    registry = SymbolRegistry(["GOOG"], limit=10, path=path)
    assert "GOOG" in registry and len(registry) == 1
