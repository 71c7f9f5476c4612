"""Upstream WebSocket feeds: POST /feeds, GET /feeds[/{id}], DELETE /feeds/{id}."""

from fastapi import APIRouter, HTTPException, Response, status

from app.api.deps import FeedsDep
from app.core.feedpolicy import PolicyError
from app.core.feeds import Feed
from app.core.pipeline import TooManyError
from app.core.ticks import SymbolLimitError
from app.schemas import FeedCreate, FeedPublic

router = APIRouter(prefix="/feeds", tags=["feeds"])


def _find(feeds: FeedsDep, feed_id: str) -> Feed:
    feed = feeds.feeds.get(feed_id)
    if feed is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such feed")
    return feed


@router.post("", status_code=status.HTTP_201_CREATED, response_model=FeedPublic)
async def add_feed(body: FeedCreate, feeds: FeedsDep) -> dict:
    """Connect to `url` and ingest its ticks (it reconnects until deleted).

    403 for a URL the feed policy refuses (FEED_ALLOWED_HOSTS, FEED_ALLOW_PRIVATE)."""
    try:
        feed = await feeds.add(body.url, body.symbols)
    except PolicyError as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(exc)) from None
    except (TooManyError, SymbolLimitError) as exc:
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, str(exc)) from None
    return feeds.public(feed)


@router.get("", response_model=list[FeedPublic])
async def list_feeds(feeds: FeedsDep) -> list[dict]:
    return [feeds.public(feed) for feed in feeds.feeds.values()]


@router.get("/{feed_id}", response_model=FeedPublic)
async def get_feed(feed_id: str, feeds: FeedsDep) -> dict:
    return feeds.public(_find(feeds, feed_id))


@router.delete("/{feed_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_feed(feed_id: str, feeds: FeedsDep) -> Response:
    await feeds.remove(_find(feeds, feed_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
