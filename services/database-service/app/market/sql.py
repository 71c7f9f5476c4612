"""Every ClickHouse statement of the market data API, in one place.

The SQL must run unchanged on the ClickHouse 18.16 of the dev hosts and on a current one (24+),
so it sticks to what both accept: epoch milliseconds in UInt64 (18.16 has no DateTime64), no
LowCardinality or Nullable, the ``ENGINE = X() ORDER BY (...)`` syntax, and no partitioning by
the data's time (a current server refuses an insert touching over 100 partitions, and a
historical replay would). No column is called ``interval``: it is a keyword, and ClickHouse
18.16 writes a table's metadata without the back-quotes it was created with, then fails to
parse that file when it restarts (the candle interval is the column ``timeframe``).

Values travel as clickhouse-driver parameters (``%(name)s``, quoted by the driver); a tuple
parameter renders as ``('A', 'B')``, which ``IN`` accepts on both versions (a list would not).
"""

TICKS_TABLE = """
CREATE TABLE IF NOT EXISTS ticks (
    symbol      String,
    ts_ms       UInt64,
    price       Float64,
    volume      Float64,
    source      String,
    batch_id    String,
    seq         UInt32,
    inserted_at DateTime DEFAULT now()
) ENGINE = MergeTree() ORDER BY (symbol, ts_ms)
"""

# One row per stored tick batch, written just before the batch's ticks: the batch's identity
# (count and a fingerprint of its ticks) and where its ticks lie, looked up by batch_id.
BATCHES_TABLE = """
CREATE TABLE IF NOT EXISTS tick_batches (
    batch_id      String,
    source        String,
    ticks         UInt32,
    fingerprint   String,
    symbols       Array(String),
    first_ms      UInt64,
    last_ms       UInt64,
    registered_at DateTime DEFAULT now()
) ENGINE = ReplacingMergeTree() ORDER BY batch_id
"""

# ReplacingMergeTree keeps, per sorting key, the row with the highest version once parts merge;
# reads add FINAL so that a replaced candle never shows before the merge has run.
CANDLES_TABLE = """
CREATE TABLE IF NOT EXISTS candles (
    symbol     String,
    timeframe  String,
    start_ms   UInt64,
    open       Float64,
    high       Float64,
    low        Float64,
    close      Float64,
    volume     Float64,
    ticks      UInt64,
    version    UInt64
) ENGINE = ReplacingMergeTree(version) ORDER BY (symbol, timeframe, start_ms)
"""

# Run in this order at first use (app/core/clickhouse.py); each statement is idempotent.
DDL = (TICKS_TABLE, BATCHES_TABLE, CANDLES_TABLE)

TICK_COLUMNS = ("symbol", "ts_ms", "price", "volume", "source", "batch_id", "seq")
INSERT_TICKS = f"INSERT INTO ticks ({', '.join(TICK_COLUMNS)}) VALUES"

BATCH_COLUMNS = ("batch_id", "source", "ticks", "fingerprint", "symbols", "first_ms", "last_ms")
INSERT_BATCH = f"INSERT INTO tick_batches ({', '.join(BATCH_COLUMNS)}) VALUES"
SELECT_BATCH = """
SELECT ticks, fingerprint FROM tick_batches WHERE batch_id = %(batch_id)s LIMIT 1
"""

# How many ticks of a batch are stored. The symbol and time bounds are the batch's own, so the
# primary key (symbol, ts_ms) narrows the scan to the granules the batch can occupy.
COUNT_BATCH = """
SELECT count() FROM ticks
WHERE symbol IN %(symbols)s
  AND ts_ms >= %(first_ms)s AND ts_ms <= %(last_ms)s
  AND batch_id = %(batch_id)s
"""
# The same for a batch of very many symbols, whose IN list would exceed the server's
# max_query_size (256 KiB by default): bounded by time alone, a slower scan but a rare one.
COUNT_BATCH_ANY_SYMBOL = """
SELECT count() FROM ticks
WHERE ts_ms >= %(first_ms)s AND ts_ms <= %(last_ms)s
  AND batch_id = %(batch_id)s
"""
# Up to this many symbols a batch's count names them (16 characters each at most, quoted).
COUNT_BATCH_SYMBOLS_MAX = 1_000

COUNT_TICKS = "SELECT count() FROM ticks"
# Optional filters of GET /market/ticks/count, ANDed in this order when given.
TICK_FILTERS = {"symbol": "symbol = %(symbol)s", "source": "source = %(source)s"}

SYMBOLS = """
SELECT symbol, count(), min(ts_ms), max(ts_ms) FROM ticks
GROUP BY symbol ORDER BY symbol
"""

CANDLE_COLUMNS = (
    "symbol",
    "timeframe",
    "start_ms",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "ticks",
    "version",
)
INSERT_CANDLES = f"INSERT INTO candles ({', '.join(CANDLE_COLUMNS)}) VALUES"

# The latest %(limit)s candles in [start_ms, end_ms), turned back to ascending order.
SELECT_CANDLES = """
SELECT start_ms, open, high, low, close, volume, ticks FROM (
    SELECT start_ms, open, high, low, close, volume, ticks
    FROM candles FINAL
    WHERE symbol = %(symbol)s AND timeframe = %(interval)s
      AND start_ms >= %(start_ms)s AND start_ms < %(end_ms)s
    ORDER BY start_ms DESC
    LIMIT %(limit)s
) ORDER BY start_ms
"""


def count_ticks(filters: tuple[str, ...]) -> str:
    """COUNT_TICKS restricted by the named TICK_FILTERS (names, never values, come in)."""
    if not filters:
        return COUNT_TICKS
    return f"{COUNT_TICKS} WHERE {' AND '.join(TICK_FILTERS[name] for name in filters)}"
