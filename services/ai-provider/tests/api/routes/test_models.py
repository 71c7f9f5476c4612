"""GET /v1/models: what is configured, with prices and their source."""


def test_no_provider_leaves_the_offline_writer_and_deep_learnings_embeddings(make_client):
    data = make_client().get("/v1/models").json()["data"]

    assert [m["id"] for m in data] == ["offline-template", "all-minilm-l6-v2"]
    offline = data[0]
    assert offline["offline"] is True
    assert offline["object"] == "model"
    assert offline["owned_by"] == "tiered (no language model)"
    assert offline["input_cost_per_1k"] == offline["output_cost_per_1k"] == 0.0


def test_hosted_models_appear_with_their_key_and_litellms_prices(make_client):
    client = make_client(environ={"OPENAI_API_KEY": "sk-test", "ANTHROPIC_API_KEY": "x"})

    models = {m["id"]: m for m in client.get("/v1/models").json()["data"]}

    assert models["gpt-4o-mini"]["provider"] == "openai"
    assert models["gpt-4o-mini"]["price_source"] == "litellm"
    assert models["gpt-4o-mini"]["input_cost_per_1k"] > 0
    assert models["claude-haiku-4-5"]["provider"] == "anthropic"
    assert models["text-embedding-3-small"]["tasks"] == ["embeddings"]
    # The offline writer stays last among the chat models.
    chat = [m["id"] for m in client.get("/v1/models").json()["data"] if m["mode"] == "chat"]
    assert chat[-1] == "offline-template"


def test_configured_and_unknown_prices_say_where_they_come_from(make_client, fake_model):
    priced = fake_model("priced", tasks=["brief"])
    unpriced = fake_model("unpriced", input_cost_per_1k=None, output_cost_per_1k=None)
    client = make_client(models=[priced, unpriced])

    models = {m["id"]: m for m in client.get("/v1/models").json()["data"]}

    assert models["priced"]["price_source"] == "configured"
    assert models["priced"]["input_cost_per_1k"] == 0.001
    assert models["priced"]["tasks"] == ["brief"]
    assert models["priced"]["owned_by"].startswith("openai at http://127.0.0.1:")
    assert models["unpriced"]["price_source"] == "none"
    assert models["unpriced"]["input_cost_per_1k"] == 0.0


def test_a_local_server_is_a_free_model(make_client, provider):
    script = provider.script("llama-test", content="local answer")
    client = make_client(local_llm_url=provider.base, local_llm_model="llama-test")

    models = {m["id"]: m for m in client.get("/v1/models").json()["data"]}
    answer = client.post(
        "/v1/chat/completions",
        json={"model": "auto", "messages": [{"role": "user", "content": "hi"}]},
    ).json()

    assert models["llama-test"]["provider"] == "local"
    assert models["llama-test"]["offline"] is False
    assert answer["model"] == "llama-test"
    assert answer["choices"][0]["message"]["content"] == "local answer"
    assert answer["provider"]["cost_usd"] == 0.0
    assert len(script.calls) == 1
