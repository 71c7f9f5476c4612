"""Training jobs' bookkeeping: states, the bound on pending jobs, forgetting old ones."""

import pytest

from app.jobs import Jobs, TooManyJobs

FIELDS = {"kind": "xgboost", "symbol": "ABC", "interval": "1h", "candles": 500, "promote": False}


def test_states_and_the_pending_bound() -> None:
    jobs = Jobs(max_pending=2, history=10)
    first, second = jobs.create(**FIELDS), jobs.create(**FIELDS)
    assert first.state == "queued" and first.id != second.id
    with pytest.raises(TooManyJobs, match="2 training jobs are queued or running"):
        jobs.create(**FIELDS)
    jobs.start(first)
    assert jobs.get(first.id).state == "running" and first.started_ms is not None
    jobs.succeed(first, version=3, metrics={"accuracy": 0.5}, promoted=False)
    assert (first.state, first.version) == ("succeeded", 3)
    third = jobs.create(**FIELDS)  # a slot is free again
    jobs.fail(second, "boom")
    assert (second.state, second.error) == ("failed", "boom") and second.finished_ms
    assert jobs.get(third.id) is third


def test_only_the_latest_finished_jobs_are_kept() -> None:
    jobs = Jobs(max_pending=5, history=2)
    made = [jobs.create(**FIELDS) for _ in range(3)]
    for job in made:
        jobs.fail(job, "x")
    assert jobs.get(made[0].id) is None
    assert jobs.get(made[1].id) is made[1] and jobs.get(made[2].id) is made[2]
