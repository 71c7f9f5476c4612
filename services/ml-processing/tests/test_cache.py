"""The prediction cache: LRU order, bounds, counts, and counting right under threads."""

import threading

from app.cache import PredictionCache


def test_hits_misses_and_least_recently_used_eviction() -> None:
    cache = PredictionCache(capacity=2)
    assert cache.get((1, (0.1,))) is None
    cache.put((1, (0.1,)), 0.6)
    cache.put((1, (0.2,)), 0.7)
    assert cache.get((1, (0.1,))) == 0.6  # now the most recent
    cache.put((1, (0.3,)), 0.8)  # evicts (0.2,), the least recently used
    assert cache.get((1, (0.2,))) is None
    assert cache.get((1, (0.3,))) == 0.8
    assert cache.stats() == {
        "hits": 2,
        "misses": 2,
        "hit_rate": 0.5,
        "size": 2,
        "capacity": 2,
    }


def test_version_is_part_of_the_key() -> None:
    cache = PredictionCache(capacity=10)
    cache.put((1, (0.5, 0.25)), 0.6)
    assert cache.get((2, (0.5, 0.25))) is None
    assert cache.get((1, (0.5, 0.25))) == 0.6


def test_batches_count_each_row() -> None:
    cache = PredictionCache(capacity=10)
    cache.put_many([((1, (float(i),)), i / 10) for i in range(3)])
    found = cache.get_many([(1, (0.0,)), (1, (5.0,)), (1, (2.0,))])
    assert found == [0.0, None, 0.2]
    assert (cache.hits, cache.misses) == (2, 1)


def test_capacity_zero_caches_nothing() -> None:
    cache = PredictionCache(capacity=0)
    cache.put((1, (0.1,)), 0.5)
    assert cache.get((1, (0.1,))) is None
    assert cache.stats()["size"] == 0


def test_thread_safe_counts_and_bound() -> None:
    cache = PredictionCache(capacity=50)
    rounds, threads = 2_000, 4

    def work(seed: int) -> None:
        for i in range(rounds):
            key = (1, (float((i * 7 + seed) % 80),))
            if cache.get(key) is None:
                cache.put(key, 0.5)

    workers = [threading.Thread(target=work, args=(s,)) for s in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    stats = cache.stats()
    assert stats["hits"] + stats["misses"] == rounds * threads
    assert stats["size"] == 50
