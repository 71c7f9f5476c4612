"""The data tier's job through the gateway: a real price series replayed as a live feed, stored
in ClickHouse tick for tick, turned into candles, indicators and signals, watched live."""

import re

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from tests.e2e.conftest import BARS, WS_URL, bearer, wait_for
from toolkit import stack
from toolkit.errors import ToolkitError
from toolkit.stack import clickhouse_scalar

pytestmark = pytest.mark.docker


def test_a_subscriber_receives_live_ticks_through_the_gateway(replay: dict) -> None:
    ticks = replay["live_ticks"]
    assert {t["symbol"] for t in ticks} == {replay["symbol"]}
    assert all(t["price"] > 0 for t in ticks)
    times = [t["ts_ms"] for t in ticks]
    assert times == sorted(times)


def test_stored_ticks_equal_replayed_ticks(gateway: httpx.Client, token: str, replay: dict) -> None:
    def finished():
        state = gateway.get(
            f"/api/data-bridge/replays/{replay['replay_id']}", headers=bearer(token)
        )
        assert state.status_code == 200, state.text
        return state.json() if state.json()["state"] != "running" else None

    final = wait_for("replay finished", finished)
    assert final["state"] == "done", final
    assert final["accepted"] == replay["ticks"]
    # Counted in ClickHouse itself: every accepted tick stored, none twice.
    source = replay["source"]
    assert re.fullmatch(r"[A-Za-z0-9_.:-]+", source), source  # safe to quote in SQL below
    count = f"SELECT count() FROM ticks WHERE source = '{source}'"  # noqa: S608
    wait_for("all ticks stored", lambda: int(clickhouse_scalar(count)) >= replay["ticks"])
    assert int(clickhouse_scalar(count)) == replay["ticks"]
    # Each tick is stored under its batch and position in it: a batch stored twice would repeat.
    unique = f"SELECT uniqExact(batch_id, seq) FROM ticks WHERE source = '{source}'"  # noqa: S608
    assert int(clickhouse_scalar(unique)) == replay["ticks"]


def test_candles_indicators_and_signals_through_the_gateway(
    gateway: httpx.Client, token: str, replay: dict
) -> None:
    symbol = replay["symbol"]
    params = {"symbol": symbol, "interval": "1h", "names": "sma,ema,rsi,macd,bbands,atr"}

    def indicators():
        got = gateway.get("/api/trading-engine/indicators", params=params, headers=bearer(token))
        return got if got.status_code == 200 and len(got.json()["start_ms"]) >= BARS - 1 else None

    body = wait_for("hourly candles of the replay", indicators).json()
    assert len(body["start_ms"]) >= BARS - 1
    rsi = [v for v in body["indicators"]["rsi"] if v is not None]
    assert rsi and all(0 <= v <= 100 for v in rsi)

    for strategy in ("sma_cross", "ml"):
        signal = gateway.get(
            "/api/trading-engine/signals",
            params={"symbol": symbol, "interval": "1h", "strategy": strategy},
            headers=bearer(token),
        )
        assert signal.status_code == 200, signal.text
        assert signal.json()["signal"] in {"buy", "sell", "hold"}
        assert signal.json()["last_candle_ms"] == body["start_ms"][-1]


def test_websocket_without_a_valid_token_is_refused() -> None:
    for url in (WS_URL, f"{WS_URL}?token=not-a-jwt"):
        # Refused at the handshake (HTTP 401/403) or closed at once with a policy code.
        with (
            pytest.raises((InvalidStatus, ConnectionClosed)) as refused,
            connect(url, open_timeout=10) as ws,
        ):
            ws.recv(timeout=5)
        if isinstance(refused.value, ConnectionClosed):
            assert refused.value.rcvd is not None and refused.value.rcvd.code == 1008


def test_market_data_needs_a_token(gateway: httpx.Client) -> None:
    assert gateway.get("/api/data-bridge/series").status_code == 401
    assert gateway.get("/api/trading-engine/indicators?symbol=X&interval=1h").status_code == 401


def test_stored_market_data_survives_a_clickhouse_restart(replay: dict) -> None:
    # ClickHouse re-reads every table's definition when it starts; one it cannot parse back
    # (18.16 drops the quotes of a keyword column name) keeps it down for good.
    source = replay["source"]
    assert re.fullmatch(r"[A-Za-z0-9_.:-]+", source), source
    count = f"SELECT count() FROM ticks WHERE source = '{source}'"  # noqa: S608
    before = int(clickhouse_scalar(count))
    stack.compose(["core"]).compose.restart(["clickhouse"])

    def answers():
        try:
            return int(clickhouse_scalar(count)) == before and clickhouse_scalar(
                "SELECT count() FROM candles"
            )
        except ToolkitError:
            return None

    assert wait_for("ClickHouse back with the stored ticks and candles", answers, timeout=60)
