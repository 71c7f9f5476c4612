"""The response cache through the API: exact hits, TTL, cache:false, the semantic match and
its threshold, and deep-learning down (exact only)."""

import time

from tests.conftest import script_of
from tests.utils import ADMIN


def ask(client, content: str, **body):
    return client.post(
        "/v1/chat/completions",
        json={"model": "auto", "messages": [{"role": "user", "content": content}], **body},
    )


def test_the_same_request_is_an_exact_hit(make_client, provider, fake_model):
    model = fake_model("cached")
    script = script_of(provider, model, content="stored answer")
    client = make_client(models=[model])

    first = ask(client, "What is a pip?")
    second = ask(client, "What is a pip?")

    assert first.headers["X-Cache"] == "miss"
    assert second.headers["X-Cache"] == "exact"
    assert len(script.calls) == 1
    body = second.json()
    assert body["choices"] == first.json()["choices"]
    assert body["usage"] == first.json()["usage"]
    assert body["model"] == "cached"
    assert body["provider"]["cache"] == "exact"
    assert body["provider"]["cost_usd"] == 0.0
    stats = client.get("/stats", headers=ADMIN).json()
    assert stats["cache"]["exact_hits"] == 1
    assert stats["cache"]["misses"] == 1
    assert stats["cache"]["hit_rate"] == 0.5
    # Only the call that reached the model is in the ledger.
    assert stats["cost"]["by_model"]["cached"]["requests"] == 1


def test_other_parameters_miss(make_client, provider, fake_model):
    model = fake_model("cached")
    script = script_of(provider, model)
    client = make_client(models=[model])

    ask(client, "What is a pip?")
    assert ask(client, "What is a pip?", temperature=0.7).headers["X-Cache"] == "miss"
    assert ask(client, "What is a pip?", max_tokens=5).headers["X-Cache"] == "miss"
    assert ask(client, "What is a pip?", model="offline-template").headers["X-Cache"] == "miss"
    assert len(script.calls) == 3


def test_cache_false_always_asks_the_model_and_is_not_counted(make_client, provider, fake_model):
    model = fake_model("fresh")
    script = script_of(provider, model)
    client = make_client(models=[model])

    ask(client, "What is a pip?", cache=False)
    response = ask(client, "What is a pip?", cache=False)

    assert response.headers["X-Cache"] == "miss"
    assert len(script.calls) == 2
    cache = client.get("/stats", headers=ADMIN).json()["cache"]
    assert (cache["exact_hits"], cache["misses"], cache["hit_rate"]) == (0, 0, 0.0)
    # and nothing was stored either
    assert ask(client, "What is a pip?").headers["X-Cache"] == "miss"


def test_an_answer_expires_after_the_ttl(make_client, provider, fake_model):
    model = fake_model("brief")
    script = script_of(provider, model)
    client = make_client(models=[model], cache_ttl_seconds=1)

    ask(client, "What is a pip?")
    assert ask(client, "What is a pip?").headers["X-Cache"] == "exact"
    time.sleep(1.2)
    assert ask(client, "What is a pip?").headers["X-Cache"] == "miss"
    assert len(script.calls) == 2


def test_a_fallback_answer_is_not_cached(make_client, provider, fake_model):
    main = fake_model("main", input_cost_per_1k=0.0, output_cost_per_1k=0.0)
    backup = fake_model("backup")
    main_script = script_of(provider, main, fail=2)
    script_of(provider, backup)
    client = make_client(models=[main, backup], provider_retries=1)

    assert ask(client, "What is a pip?").json()["model"] == "backup"
    # main is back: the next identical request reaches it instead of the backup's answer.
    response = ask(client, "What is a pip?")
    assert response.headers["X-Cache"] == "miss"
    assert response.json()["model"] == "main"
    assert len(main_script.calls) == 3


def test_a_paraphrase_is_a_semantic_hit(make_client, provider, fake_model, deep_learning):
    model = fake_model("sem")
    script = script_of(provider, model, content="Paris.")
    client = make_client(models=[model], deep_learning_url=deep_learning.url)

    ask(client, "What is the capital of France?")
    response = ask(client, "what is the capital of france")

    assert response.headers["X-Cache"] == "semantic"
    assert response.json()["provider"]["similarity"] >= 0.92
    assert response.json()["choices"][0]["message"]["content"] == "Paris."
    assert len(script.calls) == 1
    stats = client.get("/stats", headers=ADMIN).json()["cache"]
    assert stats["semantic_hits"] == 1
    assert stats["semantic_enabled"] is True
    # A different question is still a miss.
    assert ask(client, "How tall is the Eiffel tower?").headers["X-Cache"] == "miss"


def test_the_threshold_decides(make_client, provider, fake_model, deep_learning):
    model = fake_model("sem")
    script = script_of(provider, model)
    loose = make_client(models=[model], deep_learning_url=deep_learning.url, semantic_threshold=0.9)
    strict = make_client(
        models=[model], deep_learning_url=deep_learning.url, semantic_threshold=0.999
    )
    # With the bag-of-words fake, "user" and 6 shared words of 7 give cosine 6/7 = 0.857; one
    # word more (8 against 7, all 7 shared) gives 7/sqrt(56) = 0.935; the same words give 1.
    for client in (loose, strict):
        ask(client, "what is the capital of france")
        assert ask(client, "what is the capital of spain").headers["X-Cache"] == "miss"
        assert ask(client, "france, the capital of: what is").headers["X-Cache"] == "semantic"
    assert ask(loose, "what is the capital city of france").headers["X-Cache"] == "semantic"
    assert ask(strict, "what is the capital city of france").headers["X-Cache"] == "miss"
    assert len(script.calls) == 5


def test_different_facts_never_match_semantically(make_client, provider, fake_model, deep_learning):
    model = fake_model("sem")
    script_of(provider, model)
    client = make_client(models=[model], deep_learning_url=deep_learning.url)

    ask(client, "- symbol: EURUSD\n- last close: 1.0832")
    assert ask(client, "- symbol: EURUSD\n- last close: 1.0833").headers["X-Cache"] == "miss"
    assert ask(client, "- symbol: GBPUSD\n- last close: 1.0832").headers["X-Cache"] == "miss"
    assert ask(client, "- last close: 1.0832\n- symbol: EURUSD").headers["X-Cache"] == "semantic"


def test_deep_learning_down_leaves_the_exact_cache(make_client, provider, fake_model):
    model = fake_model("exact-only")
    script = script_of(provider, model)
    client = make_client(models=[model])  # deep-learning's URL: a port nothing listens on

    ask(client, "What is the capital of France?")
    assert ask(client, "what is the capital of france").headers["X-Cache"] == "miss"
    assert ask(client, "What is the capital of France?").headers["X-Cache"] == "exact"
    assert len(script.calls) == 2
    cache = client.get("/stats", headers=ADMIN).json()["cache"]
    assert cache["semantic_enabled"] is False
    assert cache["semantic_hits"] == 0
