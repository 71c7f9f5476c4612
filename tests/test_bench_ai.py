"""toolkit/bench/measure/ai.py without Docker: the replayed request mix and how a wrong hit is
told."""

from __future__ import annotations

import collections

from toolkit.bench.measure import ai as bench_ai


def test_the_mix_is_the_same_every_run_and_skewed() -> None:
    mix = bench_ai.request_mix(400)
    assert mix == bench_ai.request_mix(400)
    assert mix != bench_ai.request_mix(400, seed=1)
    counts = collections.Counter(qid for qid, _ in mix)
    ranked = [n for _, n in counts.most_common()]
    assert ranked[0] > 4 * ranked[-1]  # a few questions are asked far more often
    assert counts.most_common(1)[0][0] == 0  # rank 1 is the most asked
    prompts = {prompt for _, prompt in mix}
    assert len(prompts) <= len(bench_ai.SYMBOLS) * len(bench_ai.TIMEFRAMES) * 3


def test_an_answer_names_the_question_it_was_written_for() -> None:
    assert bench_ai._answered_for("GBPUSD on the 1d chart: ...") == ("GBPUSD", "1d")
    assert bench_ai._answered_for("no symbol here, 1h") is None
    assert bench_ai._answered_for("EURUSD or GBPUSD, 1h") is None
