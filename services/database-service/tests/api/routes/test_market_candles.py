"""Candles against a real ClickHouse: upserts where the latest write wins, range and limit reads."""

from fastapi.testclient import TestClient

from tests.utils import EPOCH_MS, new_symbol

MINUTE = 60_000
INTERVALS = ("1m", "5m", "1h", "1d")


def candle(symbol: str, start_ms: int, interval: str = "1m", **overrides: float) -> dict:
    body = {
        "symbol": symbol,
        "interval": interval,
        "start_ms": start_ms,
        "open": 10.0,
        "high": 12.0,
        "low": 9.0,
        "close": 11.0,
        "volume": 5.5,
        "ticks": 3,
    }
    body.update(overrides)
    return body


def public(body: dict) -> dict:
    """What GET returns for a candle that was posted as ``body``."""
    return {k: v for k, v in body.items() if k not in ("symbol", "interval")}


def upsert(client: TestClient, auth: dict[str, str], candles: list[dict]) -> int:
    response = client.post("/market/candles", json={"candles": candles}, headers=auth)
    assert response.status_code == 200, response.text
    return response.json()["upserted"]


def read(client: TestClient, auth: dict[str, str], **params: object) -> list[dict]:
    response = client.get("/market/candles", params=params, headers=auth)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["symbol"], body["interval"]) == (params["symbol"], params["interval"])
    return body["candles"]


def test_candles_are_stored_and_read_ascending(client: TestClient, auth: dict[str, str]) -> None:
    symbol = new_symbol()
    candles = [candle(symbol, EPOCH_MS + i * MINUTE, close=10.0 + i / 10) for i in (3, 0, 2, 1)]
    assert upsert(client, auth, candles) == 4
    stored = read(client, auth, symbol=symbol, interval="1m")
    assert stored == [public(c) for c in sorted(candles, key=lambda c: c["start_ms"])]


def test_the_latest_write_wins(client: TestClient, auth: dict[str, str]) -> None:
    symbol = new_symbol()
    upsert(client, auth, [candle(symbol, EPOCH_MS), candle(symbol, EPOCH_MS + MINUTE)])
    # A candle still forming is written again and again; each write replaces the last.
    for close in (11.5, 10.5, 11.75):
        upsert(client, auth, [candle(symbol, EPOCH_MS + MINUTE, close=close, ticks=7)])
    stored = read(client, auth, symbol=symbol, interval="1m")
    assert [c["close"] for c in stored] == [11.0, 11.75]
    assert [c["ticks"] for c in stored] == [3, 7]


def test_within_one_request_the_last_candle_of_a_key_wins(
    client: TestClient, auth: dict[str, str]
) -> None:
    symbol = new_symbol()
    first, last = candle(symbol, EPOCH_MS, close=9.5), candle(symbol, EPOCH_MS, close=11.5)
    assert upsert(client, auth, [first, last]) == 1
    assert read(client, auth, symbol=symbol, interval="1m") == [public(last)]


def test_intervals_and_symbols_are_kept_apart(client: TestClient, auth: dict[str, str]) -> None:
    a, b = new_symbol(), new_symbol()
    upsert(
        client,
        auth,
        [
            candle(a, EPOCH_MS, "1m"),
            candle(a, EPOCH_MS, "5m", close=9.5),
            candle(a, EPOCH_MS, "1h", close=10.5),
            candle(a, EPOCH_MS, "1d", close=11.5),
            candle(b, EPOCH_MS, "1m", close=12.0),
        ],
    )
    closes = {i: read(client, auth, symbol=a, interval=i)[0]["close"] for i in INTERVALS}
    assert closes == {"1m": 11.0, "5m": 9.5, "1h": 10.5, "1d": 11.5}
    assert [c["close"] for c in read(client, auth, symbol=b, interval="1m")] == [12.0]
    assert read(client, auth, symbol=b, interval="5m") == []


def test_range_is_start_inclusive_end_exclusive(client: TestClient, auth: dict[str, str]) -> None:
    symbol = new_symbol()
    upsert(client, auth, [candle(symbol, EPOCH_MS + i * MINUTE) for i in range(10)])

    def starts(**bounds: int) -> list[int]:
        found = read(client, auth, symbol=symbol, interval="1m", **bounds)
        return [(c["start_ms"] - EPOCH_MS) // MINUTE for c in found]

    assert starts(start_ms=EPOCH_MS + 2 * MINUTE, end_ms=EPOCH_MS + 5 * MINUTE) == [2, 3, 4]
    assert starts(start_ms=EPOCH_MS + 8 * MINUTE) == [8, 9]
    assert starts(end_ms=EPOCH_MS + 2 * MINUTE) == [0, 1]
    assert starts(start_ms=EPOCH_MS + 5 * MINUTE, end_ms=EPOCH_MS + 5 * MINUTE) == []
    assert starts(start_ms=EPOCH_MS + 7 * MINUTE, end_ms=EPOCH_MS + 3 * MINUTE) == []


def test_limit_keeps_the_latest_in_ascending_order(
    client: TestClient, auth: dict[str, str]
) -> None:
    symbol = new_symbol()
    upsert(client, auth, [candle(symbol, EPOCH_MS + i * MINUTE) for i in range(10)])

    def starts(**params: int) -> list[int]:
        found = read(client, auth, symbol=symbol, interval="1m", **params)
        return [(c["start_ms"] - EPOCH_MS) // MINUTE for c in found]

    assert starts(limit=3) == [7, 8, 9]
    assert starts(limit=3, end_ms=EPOCH_MS + 5 * MINUTE) == [2, 3, 4]
    assert starts(limit=100) == list(range(10))
    assert starts(limit=1, start_ms=EPOCH_MS) == [9]


def test_replaced_candles_are_not_counted_twice_by_the_limit(
    client: TestClient, auth: dict[str, str]
) -> None:
    # FINAL collapses the versions before LIMIT applies: 3 distinct candles, 3 rows.
    symbol = new_symbol()
    for close in (10.5, 11.5):
        upsert(client, auth, [candle(symbol, EPOCH_MS + i * MINUTE, close=close) for i in range(3)])
    stored = read(client, auth, symbol=symbol, interval="1m", limit=3)
    assert [c["close"] for c in stored] == [11.5, 11.5, 11.5]
    assert [c["start_ms"] for c in stored] == [EPOCH_MS + i * MINUTE for i in range(3)]


def test_an_empty_upsert_writes_nothing(client: TestClient, auth: dict[str, str]) -> None:
    assert upsert(client, auth, []) == 0


def test_unknown_symbols_have_no_candles(client: TestClient, auth: dict[str, str]) -> None:
    assert read(client, auth, symbol=new_symbol(), interval="1d") == []
