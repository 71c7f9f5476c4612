"""The limiter: at most N at once, a FIFO queue behind them, refusals with an estimate."""

import asyncio

import pytest

from app.limiter import QueueFull, WorkflowLimiter


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_runs_at_most_max_and_hands_slots_to_waiters_in_arrival_order() -> None:
    limiter = WorkflowLimiter(max_running=2, queue_limit=2)
    first, second = await limiter.acquire(), await limiter.acquire()
    order: list[str] = []

    async def wait(name: str):
        slot = await limiter.acquire()
        order.append(name)
        return slot

    third = asyncio.create_task(wait("third"))
    await _settle()
    fourth = asyncio.create_task(wait("fourth"))
    await _settle()
    assert (limiter.running, limiter.queued) == (2, 2)

    with pytest.raises(QueueFull) as refused:
        await limiter.acquire()
    assert refused.value.retry_after >= 1
    assert "2 workflows are running and 2 are waiting" in str(refused.value)

    limiter.release(first)
    await _settle()
    assert order == ["third"] and limiter.running == 2 and limiter.queued == 1
    limiter.release(second)
    await _settle()
    assert order == ["third", "fourth"] and limiter.queued == 0

    limiter.release(await third)
    limiter.release(await fourth)
    assert limiter.running == 0
    assert limiter.max_running_seen == 2


async def test_a_newcomer_never_overtakes_the_queue() -> None:
    limiter = WorkflowLimiter(max_running=1, queue_limit=5)
    slot = await limiter.acquire()
    waiter = asyncio.create_task(limiter.acquire())
    await _settle()
    limiter.release(slot)  # handed to the waiter, not up for grabs
    late = asyncio.create_task(limiter.acquire())
    await _settle()
    assert waiter.done() and not late.done()
    limiter.release(await waiter)
    limiter.release(await late)
    assert limiter.running == 0


async def test_a_cancelled_waiter_leaves_the_queue() -> None:
    limiter = WorkflowLimiter(max_running=1, queue_limit=1)
    slot = await limiter.acquire()
    waiter = asyncio.create_task(limiter.acquire())
    await _settle()
    assert limiter.queued == 1
    waiter.cancel()
    await _settle()
    assert limiter.queued == 0
    limiter.release(slot)
    assert limiter.running == 0


async def test_a_slot_handed_to_a_cancelled_waiter_passes_on() -> None:
    limiter = WorkflowLimiter(max_running=1, queue_limit=2)
    slot = await limiter.acquire()
    gone = asyncio.create_task(limiter.acquire())
    await _settle()
    nxt = asyncio.create_task(limiter.acquire())
    await _settle()
    limiter.release(slot)  # resolves `gone`'s future...
    gone.cancel()  # ...which is cancelled before it resumes
    await _settle()
    assert gone.cancelled() and nxt.done()
    assert limiter.running == 1
    limiter.release(await nxt)
    assert limiter.running == 0


async def test_releasing_twice_gives_back_one_slot() -> None:
    limiter = WorkflowLimiter(max_running=2, queue_limit=0)
    slot = await limiter.acquire()
    await limiter.acquire()
    limiter.release(slot)
    limiter.release(slot)
    assert limiter.running == 1


async def test_retry_after_estimates_from_recent_hold_times() -> None:
    limiter = WorkflowLimiter(max_running=2, queue_limit=0, prior_seconds=3)
    assert limiter.retry_after() == 2  # nothing finished yet: the prior, 3 s for 1 of 2 slots
    for held in (9.0, 11.0, 13.0):
        slot = await limiter.acquire()
        slot.acquired_at -= held
        limiter.release(slot)
    # The median hold (11 s), the one place ahead worked off by two slots: 5.5 s.
    assert limiter.retry_after() == 6
