"""Keeps access tokens sent as a `token` query parameter (WebSockets from browsers) out of logs.

uvicorn logs each WebSocket handshake with its full query string, at info level.
"""

import logging
import re

TOKEN_IN_QUERY = re.compile(r"([?&]token=)[^&\s\"]*")
REDACTED = r"\1[redacted]"


class QueryTokenFilter(logging.Filter):
    """Rewrites `token=<value>` in a record's message arguments to `token=[redacted]`."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(
                TOKEN_IN_QUERY.sub(REDACTED, arg) if isinstance(arg, str) else arg
                for arg in record.args
            )
        if isinstance(record.msg, str) and "token=" in record.msg:
            record.msg = TOKEN_IN_QUERY.sub(REDACTED, record.msg)
        return True


def redact_query_tokens(logger_name: str = "uvicorn.error") -> None:
    """Install the filter on `logger_name` once, however many apps are built in the process."""
    logger = logging.getLogger(logger_name)
    if not any(isinstance(existing, QueryTokenFilter) for existing in logger.filters):
        logger.addFilter(QueryTokenFilter())
