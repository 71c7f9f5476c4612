"""Market data (ticks and candles) in ClickHouse: schemas, SQL and storage."""
