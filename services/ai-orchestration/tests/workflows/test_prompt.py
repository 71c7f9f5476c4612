"""The brief's prompt: one `- <label>: <value>` line per fact, missing parts last."""

from app.workflows.prompt import SYSTEM, brief_messages, fact_lines
from tests.workflows.samples import INPUTS, PARTS


def test_every_part_becomes_fact_lines() -> None:
    lines = fact_lines(INPUTS, PARTS, [])
    assert lines[:4] == [
        "- symbol: EURUSD",
        "- interval: 1h",
        "- last close: 1.22904 at 2018-02-07 15:00 UTC",
        "- history: 500 candles from 2018-01-17 20:00 UTC to 2018-02-07 15:00 UTC",
    ]
    assert "- SMA(20): 1.23683" in lines
    assert "- MACD(12, 26, 9): macd -0.00071, signal -0.00032, hist -0.00039" in lines
    assert "- Bollinger bands(20, 2): upper 1.24213, middle 1.23683, lower 1.23153" in lines
    assert "- signal (sma_cross): hold (position flat)" in lines
    assert "- prediction (sklearn v1): p(up)=0.348235 for the next bar (down)" in lines
    assert (
        "- forecast (v1, 2 steps): close 1.22881 after 1 step, 1.22856 after 2 steps "
        "(95% band 1.22459 to 1.23252)"
    ) in lines
    assert all(line.startswith("- ") for line in lines)


def test_missing_parts_are_said_and_absent_ones_skipped() -> None:
    parts = {"candles": PARTS["candles"], "forecast": None}
    missing = [
        {"part": "prediction", "service": "ml-processing", "reason": "timed out after 5 s"},
        {"part": "forecast", "service": "deep-learning", "reason": "deep-learning is not running"},
    ]
    lines = fact_lines(INPUTS, parts, missing)
    assert len(lines) == 6
    assert lines[-2:] == [
        "- missing: prediction (timed out after 5 s)",
        "- missing: forecast (deep-learning is not running)",
    ]


def test_messages_are_a_system_and_a_user_message() -> None:
    system, user = brief_messages(INPUTS, PARTS, [])
    assert system == {"role": "system", "content": SYSTEM}
    assert user["role"] == "user"
    assert user["content"].startswith("Write the market brief for EURUSD (1h).\n- symbol: EURUSD")
