"""The historical series: found without importing backtesting, bars with sane spans."""

import subprocess
import sys
from pathlib import Path

import numpy as np

import app
from app.core.series import SERIES_FILES, bar_spans, load


def test_series_are_listed_without_importing_backtesting() -> None:
    probe = (
        "import sys; from app.core.series import available; "
        "names = [s['name'] for s in available()]; "
        "print(names, 'backtesting' in sys.modules, 'bokeh' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        cwd=Path(app.__file__).parent.parent,  # where `app` imports from
    )
    assert result.stdout.split("\n")[0] == "['GOOG', 'EURUSD', 'BTCUSD'] False False"


def test_every_series_loads_real_bars() -> None:
    for name in SERIES_FILES:
        series = load(name)
        assert len(series) > 100
        assert np.all(np.diff(series.start_ms) > 0)
        assert np.all(series.high >= np.maximum(series.open, series.close))
        assert np.all(series.low <= np.minimum(series.open, series.close))
        assert np.all(series.span_ms > 0)
    assert load("EURUSD").nominal_ms == 3_600_000
    assert load("GOOG").nominal_ms == 86_400_000
    # The first EURUSD bar of the file: 2017-04-19 09:00 UTC.
    eurusd = load("EURUSD")
    assert eurusd.start_ms[0] == 1_492_592_400_000
    assert (eurusd.open[0], eurusd.close[0], eurusd.volume[0]) == (1.0716, 1.07219, 1413)


def test_spans_never_cover_gaps() -> None:
    hour = 3_600_000
    starts = np.array([0, hour, 2 * hour, 50 * hour, 51 * hour], dtype=np.int64)
    spans, nominal = bar_spans(starts)
    assert nominal == hour
    assert spans.tolist() == [hour] * 5
