"""POST /v1/embeddings: deep-learning's model by default, hosted ones through litellm."""

import pytest

from tests.fakes import DIMENSION, bag_of_words
from tests.utils import ADMIN


def test_the_default_model_is_deep_learnings(make_client, deep_learning):
    client = make_client(deep_learning_url=deep_learning.url)

    response = client.post("/v1/embeddings", json={"input": ["first text", "second text"]})

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["object"] == "list"
    assert body["model"] == "all-minilm-l6-v2"
    assert [item["index"] for item in body["data"]] == [0, 1]
    assert all(item["object"] == "embedding" for item in body["data"])
    assert len(body["data"][0]["embedding"]) == DIMENSION
    assert body["data"][1]["embedding"] == pytest.approx(bag_of_words("second text"))
    assert body["usage"]["prompt_tokens"] == body["usage"]["total_tokens"] > 0
    assert deep_learning.calls[-1] == ["first text", "second text"]


def test_one_string_is_one_embedding(make_client, deep_learning):
    client = make_client(deep_learning_url=deep_learning.url)

    body = client.post("/v1/embeddings", json={"input": "just one"}).json()

    assert len(body["data"]) == 1


def test_deep_learning_down_is_a_503_saying_so(make_client):
    client = make_client()  # deep-learning's URL: a port nothing listens on

    response = client.post("/v1/embeddings", json={"input": "hello"})

    assert response.status_code == 503
    assert "deep-learning" in response.json()["detail"]
    assert "not running" in response.json()["detail"]


def test_a_hosted_embedding_model_goes_through_litellm(make_client, fake_model):
    hosted = fake_model(
        "fake-embed", mode="embedding", input_cost_per_1k=0.02, output_cost_per_1k=0.0
    )
    client = make_client(models=[hosted])

    response = client.post(
        "/v1/embeddings",
        json={"model": "fake-embed", "input": ["a", "b"]},
        headers={"X-User-Id": "u-emb"},
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == "fake-embed"
    assert body["data"][1]["embedding"] == pytest.approx(bag_of_words("b")[:8])
    assert body["usage"]["prompt_tokens"] == 10  # the provider's count
    ledger = client.get("/stats", headers=ADMIN).json()["cost"]
    assert ledger["by_model"]["fake-embed"]["cost_usd"] == pytest.approx(10 * 0.02 / 1000)
    assert ledger["by_user"]["u-emb"]["requests"] == 1


def test_a_failing_hosted_embedding_model_is_a_502(make_client, fake_model):
    from tests.fakes import free_port

    gone = fake_model("gone-embed", mode="embedding", api_base=f"http://127.0.0.1:{free_port()}")
    client = make_client(models=[gone])

    response = client.post("/v1/embeddings", json={"model": "gone-embed", "input": "x"})

    assert response.status_code == 502
    assert response.json()["failures"][0]["model"] == "gone-embed"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"input": []}, 422),
        ({"input": ""}, 422),
        ({"input": ["ok", "  "]}, 422),
        ({"input": 5}, 422),
        ({}, 422),
        ({"input": ["x"] * 65}, 413),
        ({"input": "x", "model": "no-such-model"}, 404),
    ],
)
def test_bad_input(make_client, deep_learning, body, status):
    client = make_client(deep_learning_url=deep_learning.url)
    response = client.post("/v1/embeddings", json=body)
    assert response.status_code == status, response.text
