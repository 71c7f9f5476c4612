"""Per-user AI data: each user's cache partition (unless a request asks for the shared one),
and GET /stats showing a user their own figures, everyone's only to an admin."""

import pytest

from tests.conftest import script_of

ALICE = {"X-User-Id": "u-alice", "X-User-Role": "user"}
BOB = {"X-User-Id": "u-bob", "X-User-Role": "user"}
ADMIN = {"X-User-Id": "u-admin", "X-User-Role": "admin"}


def ask(client, content: str, headers: dict, **body):
    sent = {"model": "auto", "messages": [{"role": "user", "content": content}], **body}
    return client.post("/v1/chat/completions", json=sent, headers=headers)


def test_one_users_answer_is_never_another_users_hit(make_client, provider, fake_model):
    model = fake_model("scoped")
    script = script_of(provider, model)
    client = make_client(models=[model])

    assert ask(client, "What is a pip?", ALICE).headers["X-Cache"] == "miss"
    assert ask(client, "What is a pip?", BOB).headers["X-Cache"] == "miss"
    assert ask(client, "What is a pip?", ALICE).headers["X-Cache"] == "exact"
    assert ask(client, "What is a pip?", BOB).headers["X-Cache"] == "exact"
    assert len(script.calls) == 2


def test_a_paraphrase_hits_only_its_own_users_partition(
    make_client, provider, fake_model, deep_learning
):
    model = fake_model("scoped-sem")
    script_of(provider, model)
    client = make_client(models=[model], deep_learning_url=deep_learning.url)

    ask(client, "What is the capital of France?", ALICE)
    assert ask(client, "what is the capital of france", BOB).headers["X-Cache"] == "miss"
    assert ask(client, "what is the capital of france", ALICE).headers["X-Cache"] == "semantic"


def test_the_shared_scope_is_shared_and_apart_from_each_users(make_client, provider, fake_model):
    model = fake_model("shared")
    script = script_of(provider, model)
    client = make_client(models=[model])

    assert ask(client, "Define spread.", ALICE, cache_scope="shared").headers["X-Cache"] == "miss"
    assert ask(client, "Define spread.", BOB, cache_scope="shared").headers["X-Cache"] == "exact"
    # A shared answer does not enter anyone's own partition, nor the other way round.
    assert ask(client, "Define spread.", BOB).headers["X-Cache"] == "miss"
    assert ask(client, "Define spread.", BOB).headers["X-Cache"] == "exact"
    assert len(script.calls) == 2


def test_an_unknown_cache_scope_is_refused(make_client):
    response = ask(make_client(), "hi", ALICE, cache_scope="everyone")
    assert response.status_code == 422


def test_a_user_sees_only_their_own_figures(make_client, provider, fake_model):
    model = fake_model("mine", input_cost_per_1k=1.0, output_cost_per_1k=2.0)
    script_of(provider, model, usage=(100, 50))
    client = make_client(models=[model])
    ask(client, "one", ALICE)
    ask(client, "one", ALICE)  # an exact hit
    ask(client, "two", BOB)
    ask(client, "three", BOB)

    stats = client.get("/stats", headers=ALICE).json()
    per_call = (100 * 1.0 + 50 * 2.0) / 1000
    assert stats["scope"] == "user"
    assert stats["user"] == "u-alice"
    assert stats["requests"] == 2
    assert stats["cache"] == {
        "exact_hits": 1,
        "semantic_hits": 0,
        "misses": 1,
        "hit_rate": 0.5,
        "semantic_enabled": False,
    }
    assert list(stats["cost"]["by_user"]) == ["u-alice"]
    assert stats["cost"]["by_user"]["u-alice"]["cost_usd"] == pytest.approx(per_call)
    assert stats["cost"]["by_model"] == {
        "mine": {
            "requests": 1,
            "prompt_tokens": 100,
            "completion_tokens": 50,
            "cost_usd": pytest.approx(per_call),
        }
    }
    # Nothing of the service as a whole, which is everyone's business but the admin's.
    assert not {"fallbacks", "failures", "latency_ms", "tracing"} & set(stats)
    # A role header the gateway did not write counts as none: the caller's own figures.
    assert client.get("/stats", headers={"X-User-Id": "u-bob"}).json()["requests"] == 2


def test_an_admin_sees_everyones_figures(make_client, provider, fake_model):
    model = fake_model("all")
    script_of(provider, model)
    client = make_client(models=[model])
    ask(client, "one", ALICE)
    ask(client, "two", BOB)

    stats = client.get("/stats", headers=ADMIN).json()
    assert stats["scope"] == "all"
    assert stats["requests"] == 2
    assert set(stats["cost"]["by_user"]) == {"u-alice", "u-bob"}
    assert stats["cost"]["by_model"]["all"]["requests"] == 2
    assert {"fallbacks", "failures", "latency_ms", "tracing"} <= set(stats)


def test_a_user_with_no_activity_sees_zeros(make_client):
    stats = make_client().get("/stats", headers=ALICE).json()
    assert stats == {
        "scope": "user",
        "user": "u-alice",
        "cache": {
            "exact_hits": 0,
            "semantic_hits": 0,
            "misses": 0,
            "hit_rate": 0.0,
            "semantic_enabled": False,
        },
        "requests": 0,
        "cost": {"by_model": {}, "by_user": {}},
    }
