"""GET /series: the real historical series that can be replayed."""

import asyncio

from fastapi import APIRouter

from app.core.series import available

router = APIRouter(tags=["series"])


@router.get("/series")
async def list_series() -> list[dict]:
    """Each series with its symbol, bar count, bar length and time span (epoch ms)."""
    # Parsing the CSVs is cached after the first call; the first one reads files.
    return await asyncio.to_thread(available)
