"""POST /v1/chat/completions against the fake OpenAI-compatible provider: routing, retries,
fallback, 502s, the cost ledger and bad input."""

import pytest

from app.offline import MARKER
from tests.conftest import script_of
from tests.utils import ADMIN

USER = {"role": "user", "content": "Say something short."}


def ask(client, **body):
    return client.post("/v1/chat/completions", json={"model": "auto", "messages": [USER], **body})


def test_auto_routes_to_the_cheapest_model_and_accounts_its_tokens(
    make_client, provider, fake_model
):
    cheap = fake_model("cheap", input_cost_per_1k=0.5, output_cost_per_1k=1.5)
    dear = fake_model("dear", input_cost_per_1k=5.0, output_cost_per_1k=15.0)
    script_of(provider, cheap, usage=(120, 30), content="cheap answer")
    dear_script = script_of(provider, dear)
    client = make_client(models=[dear, cheap])

    response = ask(client, user="body-user", headers=None)

    assert response.status_code == 200, response.text
    body = response.json()
    assert response.headers["X-Cache"] == "miss"
    assert body["object"] == "chat.completion"
    assert body["model"] == "cheap"
    assert body["choices"][0]["message"] == {"role": "assistant", "content": "cheap answer"}
    assert body["usage"] == {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150}
    expected_cost = 120 * 0.5 / 1000 + 30 * 1.5 / 1000
    assert body["provider"]["cost_usd"] == pytest.approx(expected_cost)
    assert body["provider"]["cache"] == "miss"
    assert body["provider"]["provider"] == "openai"
    assert body["provider"]["attempts"] == []
    assert dear_script.calls == []
    sent = provider.scripts[cheap["litellm_model"].split("/", 1)[1]].calls[0]
    assert sent["messages"] == [USER]
    assert sent["temperature"] == 0
    assert "user" not in sent  # the caller's identity stays here

    stats = client.get("/stats", headers=ADMIN).json()
    assert stats["requests"] == 1
    assert stats["cost"]["by_model"]["cheap"] == {
        "requests": 1,
        "prompt_tokens": 120,
        "completion_tokens": 30,
        "cost_usd": pytest.approx(expected_cost),
    }
    assert stats["cost"]["by_user"]["body-user"]["cost_usd"] == pytest.approx(expected_cost)
    assert stats["latency_ms"]["cheap"]["samples"] == 1


def test_the_ledger_adds_calls_per_model_and_per_user(make_client, provider, fake_model):
    alpha = fake_model("alpha", input_cost_per_1k=1.0, output_cost_per_1k=2.0)
    script_of(provider, alpha, usage=(100, 50))
    client = make_client(models=[alpha])

    for content, headers in (("one", {"X-User-Id": "u-1"}), ("two", {"X-User-Id": "u-1"})):
        sent = {"model": "alpha", "messages": [{"role": "user", "content": content}]}
        assert client.post("/v1/chat/completions", json=sent, headers=headers).status_code == 200
    # The gateway's X-User-Id wins over the body's user; neither gives "anonymous".
    sent = {"model": "alpha", "messages": [{"role": "user", "content": "three"}], "user": "u-2"}
    assert client.post("/v1/chat/completions", json=sent, headers={"X-User-Id": "u-3"}).is_success
    sent = {"model": "alpha", "messages": [{"role": "user", "content": "four"}]}
    assert client.post("/v1/chat/completions", json=sent).is_success

    cost = client.get("/stats", headers=ADMIN).json()["cost"]
    per_call = (100 * 1.0 + 50 * 2.0) / 1000
    assert cost["by_model"]["alpha"]["requests"] == 4
    assert cost["by_model"]["alpha"]["prompt_tokens"] == 400
    assert cost["by_model"]["alpha"]["completion_tokens"] == 200
    assert cost["by_model"]["alpha"]["cost_usd"] == pytest.approx(4 * per_call)
    assert cost["by_user"]["u-1"]["requests"] == 2
    assert cost["by_user"]["u-1"]["cost_usd"] == pytest.approx(2 * per_call)
    assert cost["by_user"]["u-3"]["requests"] == 1
    assert cost["by_user"]["anonymous"]["requests"] == 1
    assert "u-2" not in cost["by_user"]


def test_a_provider_without_usage_is_counted_by_the_token_counter(
    make_client, provider, fake_model
):
    silent = fake_model("silent")
    script_of(provider, silent, usage=None, content="three short words")
    client = make_client(models=[silent])

    body = ask(client).json()

    assert body["usage"]["prompt_tokens"] > 0
    assert body["usage"]["completion_tokens"] == 3
    assert body["provider"]["cost_usd"] == pytest.approx(
        (body["usage"]["prompt_tokens"] * 0.001 + 3 * 0.002) / 1000
    )


def test_a_500_is_retried_and_then_the_next_model_answers(make_client, provider, fake_model):
    broken = fake_model("broken", input_cost_per_1k=0.0, output_cost_per_1k=0.0)
    backup = fake_model("backup")
    broken_script = script_of(provider, broken, fail=100)
    script_of(provider, backup, content="from the backup")
    client = make_client(models=[broken, backup], provider_retries=1)

    response = ask(client)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == "backup"
    assert body["choices"][0]["message"]["content"] == "from the backup"
    assert len(broken_script.calls) == 2  # one call and one retry
    attempts = body["provider"]["attempts"]
    assert [a["model"] for a in attempts] == ["broken", "broken"]
    assert all("500" in a["error"] for a in attempts)
    stats = client.get("/stats", headers=ADMIN).json()
    assert stats["fallbacks"] == 1
    assert stats["failures"] == {"broken": 2}
    assert "broken" not in stats["cost"]["by_model"]


def test_a_retry_that_succeeds_keeps_the_first_model(make_client, provider, fake_model):
    flaky = fake_model("flaky")
    flaky_script = script_of(provider, flaky, fail=1, status=503)
    client = make_client(models=[flaky], provider_retries=1)

    body = ask(client).json()

    assert body["model"] == "flaky"
    assert len(flaky_script.calls) == 2
    assert [a["model"] for a in body["provider"]["attempts"]] == ["flaky"]
    assert client.get("/stats", headers=ADMIN).json()["fallbacks"] == 0


def test_a_client_error_is_not_retried(make_client, provider, fake_model):
    refused = fake_model("refused", input_cost_per_1k=0.0)
    refused_script = script_of(provider, refused, fail=100, status=400)
    backup = fake_model("backup")
    script_of(provider, backup)
    client = make_client(models=[refused, backup], provider_retries=2)

    body = ask(client).json()

    assert body["model"] == "backup"
    assert len(refused_script.calls) == 1


def test_a_model_that_hangs_past_its_timeout_gives_way(make_client, provider, fake_model):
    slow = fake_model("slow", input_cost_per_1k=0.0, output_cost_per_1k=0.0, timeout=0.5)
    backup = fake_model("backup")
    script_of(provider, slow, hang=3.0)
    script_of(provider, backup, content="in time")
    client = make_client(models=[slow, backup], provider_retries=0)

    body = ask(client).json()

    assert body["model"] == "backup"
    assert body["provider"]["attempts"] == [
        {"model": "slow", "error": "timeout: no answer within 0.5 s"}
    ]


def test_when_every_language_model_fails_the_offline_template_answers(
    make_client, provider, fake_model
):
    down = fake_model("down")
    script_of(provider, down, fail=100)
    client = make_client(models=[down], provider_retries=0)

    response = ask(client)

    body = response.json()
    assert body["model"] == "offline-template"
    assert body["choices"][0]["message"]["content"].startswith(MARKER)
    assert body["provider"]["provider"] == "offline"
    assert [a["model"] for a in body["provider"]["attempts"]] == ["down"]


def test_every_candidate_failing_is_a_502_naming_each(make_client, provider, fake_model):
    first = fake_model("first", fallbacks=["second"])
    second = fake_model("second")
    script_of(provider, first, fail=100)
    script_of(provider, second, fail=100, status=502)
    client = make_client(models=[first, second], provider_retries=0)

    # fallback=false: only the named model (one try) ...
    response = ask(client, model="first", fallback=False)
    assert response.status_code == 502
    assert response.json()["failures"] == [
        {"model": "first", "provider": "openai", "error": response.json()["failures"][0]["error"]}
    ]
    assert "500" in response.json()["failures"][0]["error"]

    # ... with fallbacks, its configured one is tried next, and offline-template answers last.
    response = ask(client, model="first")
    assert response.status_code == 200
    assert response.json()["model"] == "offline-template"
    assert [a["model"] for a in response.json()["provider"]["attempts"]] == ["first", "second"]


def test_auto_without_fallback_is_a_502_when_its_choice_fails(make_client, provider, fake_model):
    only = fake_model("only")
    script_of(provider, only, fail=100)
    client = make_client(models=[only], provider_retries=1)

    response = ask(client, fallback=False)

    assert response.status_code == 502
    body = response.json()
    assert "only (openai)" in body["detail"]
    assert [f["model"] for f in body["failures"]] == ["only"]
    assert client.get("/stats", headers=ADMIN).json()["failures"] == {"only": 2}


def test_an_unreachable_provider_fails_over(make_client, fake_model):
    from tests.fakes import free_port

    gone = fake_model("gone", api_base=f"http://127.0.0.1:{free_port()}/v1")
    client = make_client(models=[gone], provider_retries=0)

    body = ask(client).json()

    assert body["model"] == "offline-template"
    assert body["provider"]["attempts"][0]["model"] == "gone"


def test_max_cost_picks_a_model_within_it(make_client, provider, fake_model):
    cheap = fake_model("cheap", input_cost_per_1k=1.0, output_cost_per_1k=1.0)
    dear = fake_model("dear", input_cost_per_1k=100.0, output_cost_per_1k=100.0)
    script_of(provider, cheap)
    script_of(provider, dear)
    client = make_client(models=[cheap, dear])

    body = ask(client, model="dear", max_tokens=10, max_cost_usd=0.01)

    assert body.status_code == 422
    assert body.json()["cheapest"] == "dear"
    assert "cheapest estimate" in body.json()["detail"]
    response = ask(client, max_tokens=10, max_cost_usd=0.1)
    assert response.json()["model"] == "cheap"


def test_no_model_within_max_cost_is_a_422_naming_the_cheapest_estimate(make_client, fake_model):
    dear = fake_model("dear", input_cost_per_1k=100.0, output_cost_per_1k=100.0)
    client = make_client(models=[dear])

    response = ask(client, max_tokens=100, max_cost_usd=0.0001)

    assert response.status_code == 422
    body = response.json()
    assert body["cheapest"] == "dear"
    assert body["cheapest_estimate_usd"] > 0.0001
    assert f"{body['cheapest_estimate_usd']:.8f}" in body["detail"]


def test_prefer_latency_tries_the_fastest_measured_model_first(
    make_client, provider, fake_model, redis_client
):
    cheap_slow = fake_model("cheap-slow", input_cost_per_1k=0.1, output_cost_per_1k=0.1)
    dear_fast = fake_model("dear-fast", input_cost_per_1k=1.0, output_cost_per_1k=1.0)
    script_of(provider, cheap_slow)
    script_of(provider, dear_fast)
    client = make_client(models=[cheap_slow, dear_fast])
    prefix = client.app.state.settings.redis_prefix
    redis_client.hset(f"{prefix}:latency", mapping={"cheap-slow": 900.0, "dear-fast": 40.0})

    assert ask(client, prefer="latency").json()["model"] == "dear-fast"
    assert ask(client, prefer="cost", cache=False).json()["model"] == "cheap-slow"


def test_a_task_routes_to_the_models_that_serve_it(make_client, provider, fake_model):
    writer = fake_model("writer", tasks=["brief", "summarize"], input_cost_per_1k=1.0)
    chatty = fake_model("chatty", tasks=["chat"], input_cost_per_1k=0.0)
    script_of(provider, writer)
    script_of(provider, chatty)
    client = make_client(models=[writer, chatty])

    assert ask(client, task="brief").json()["model"] == "writer"
    assert ask(client, task="chat").json()["model"] == "chatty"
    assert ask(client, task="translate").json()["model"] == "offline-template"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"model": "auto", "messages": []}, 422),
        ({"model": "auto"}, 422),
        ({"model": "auto", "messages": [{"role": "robot", "content": "hi"}]}, 422),
        ({"model": "auto", "messages": [{"role": "user", "content": "   "}]}, 422),
        ({"model": "auto", "messages": [{"role": "user", "content": 5}]}, 422),
        ({"model": "auto", "messages": [{"role": "user"}]}, 422),
        ({"model": "auto", "messages": "hello"}, 422),
        ({"model": "auto", "messages": [USER], "stream": "sometimes"}, 422),
        ({"model": "auto", "messages": [USER], "stream_options": "usage"}, 422),
        ({"model": "auto", "messages": [USER], "temperature": 3}, 422),
        ({"model": "auto", "messages": [USER], "max_cost_usd": -1}, 422),
        ({"model": "auto", "messages": [USER], "prefer": "quality"}, 422),
        ({"model": "", "messages": [USER]}, 422),
    ],
)
def test_malformed_requests_are_422(make_client, body, status):
    client = make_client()
    response = client.post("/v1/chat/completions", json=body)
    assert response.status_code == status, response.text


def test_malformed_json_is_400(make_client):
    response = make_client().post(
        "/v1/chat/completions", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400


def test_an_unknown_model_is_404_listing_the_available(make_client, fake_model):
    client = make_client(models=[fake_model("known")])

    response = ask(client, model="gpt-17")

    assert response.status_code == 404
    body = response.json()
    assert "gpt-17" in body["detail"]
    assert body["available"] == ["auto", "known", "offline-template"]


def test_a_prompt_over_max_prompt_chars_is_413(make_client):
    client = make_client(max_prompt_chars=100)

    long = {"role": "user", "content": "x" * 60}
    response = client.post("/v1/chat/completions", json={"model": "auto", "messages": [long, long]})

    assert response.status_code == 413
    assert "120 characters" in response.json()["detail"]
    assert client.get("/stats", headers=ADMIN).json()["requests"] == 0
