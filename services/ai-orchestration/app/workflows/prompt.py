"""The brief's prompt: a system message and one fact line per figure, `- <label>: <value>`.

Fact lines are what any writer reads best, a language model or ai-provider's offline template
writer (which turns exactly such lines into sentences). Figures are printed with six
significant digits: the exact values stay in the result's parts.
"""

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

SYSTEM = (
    "You write short market briefs for traders. Use only the facts given and quote their "
    "figures as given. Say which parts are missing and why. Do not advise buying or selling. "
    "Write one paragraph of three to six plain sentences."
)

INDICATOR_LABELS = {
    "sma": "SMA",
    "ema": "EMA",
    "rsi": "RSI",
    "atr": "ATR",
    "macd": "MACD",
    "bbands": "Bollinger bands",
}


def number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return f"{value:.6g}"


def when(ms: int | None) -> str:
    if ms is None:
        return "an unknown time"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _params(params: Mapping[str, Any] | None) -> str:
    if not params:
        return ""
    return "(" + ", ".join(number(v) for v in params.values()) + ")"


def _indicator_lines(part: Mapping[str, Any]) -> list[str]:
    lines = []
    params = part.get("params") or {}
    for name, value in part["values"].items():
        label = INDICATOR_LABELS.get(name, name) + _params(params.get(name))
        if isinstance(value, Mapping):
            shown = ", ".join(f"{key} {number(v)}" for key, v in value.items())
        else:
            shown = number(value)
        lines.append(f"- {label}: {shown}")
    return lines


def fact_lines(
    inputs: Mapping[str, Any], parts: Mapping[str, Any], missing: Sequence[Mapping[str, str]]
) -> list[str]:
    """The facts of one brief, in reading order, missing parts last."""
    candles = parts["candles"]
    lines = [
        f"- symbol: {inputs['symbol']}",
        f"- interval: {inputs['interval']}",
        f"- last close: {number(candles['last_close'])} at {when(candles['last_start_ms'])}",
        f"- history: {candles['count']} candles from {when(candles['first_start_ms'])} "
        f"to {when(candles['last_start_ms'])}",
    ]
    if indicators := parts.get("indicators"):
        lines += _indicator_lines(indicators)
    if signal := parts.get("signal"):
        position = f" (position {signal['position']})" if signal.get("position") else ""
        lines.append(f"- signal ({signal['strategy']}): {signal['signal']}{position}")
    if prediction := parts.get("prediction"):
        direction = "up" if prediction["class"] == 1 else "down"
        lines.append(
            f"- prediction ({prediction['kind']} v{prediction['version']}): "
            f"p(up)={number(prediction['probability'])} for the next bar ({direction})"
        )
    if forecast := parts.get("forecast"):
        steps = forecast.get("steps") or []
        if steps:
            first, last = steps[0], steps[-1]
            lines.append(
                f"- forecast (v{forecast['version']}, {len(steps)} steps): close "
                f"{number(first['close'])} after 1 step, {number(last['close'])} after "
                f"{last['step']} steps (95% band {number(last['lower'])} to "
                f"{number(last['upper'])})"
            )
    for entry in missing:
        lines.append(f"- missing: {entry['part']} ({entry['reason']})")
    return lines


def brief_messages(
    inputs: Mapping[str, Any], parts: Mapping[str, Any], missing: Sequence[Mapping[str, str]]
) -> list[dict[str, str]]:
    """The chat messages that ask for one market brief."""
    facts = "\n".join(fact_lines(inputs, parts, missing))
    user = f"Write the market brief for {inputs['symbol']} ({inputs['interval']}).\n{facts}"
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]
