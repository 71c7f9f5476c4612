"""POST /embeddings with the real all-MiniLM-L6-v2, its bounds, and no network at all."""

import os
import sys
import threading

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient

import servicekit_testing as testing
from app.embeddings import MODEL_NAME, load_model

NETWORK_EVENTS = ("socket.connect", "socket.getaddrinfo", "socket.gethostbyname")
# Audit hooks cannot be removed: this one acts only on the thread it is armed for.
_armed: dict[str, object] = {"thread": None, "attempts": []}


def _block_network(event: str, args: tuple) -> None:
    if event in NETWORK_EVENTS and threading.get_ident() == _armed["thread"]:
        _armed["attempts"].append((event, repr(args)[:200]))
        raise PermissionError(f"network blocked by the test: {event}")


sys.addaudithook(_block_network)


def embed(client: TestClient, texts: list) -> dict:
    response = client.post("/embeddings", json={"texts": texts})
    assert response.status_code == 200, response.text
    return response.json()


def test_vectors_are_384_dims_unit_length(client: TestClient) -> None:
    answer = embed(client, ["The euro rose against the dollar.", "A second sentence."])
    assert answer["model"] == MODEL_NAME and answer["dimension"] == 384
    assert answer["normalized"] is True
    vectors = np.array(answer["embeddings"])
    assert vectors.shape == (2, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_similar_sentences_are_closer(client: TestClient) -> None:
    texts = [
        "The central bank raised interest rates to fight inflation.",
        "Interest rates were increased by the central bank to curb rising prices.",
        "My cat likes to sleep on the warm windowsill.",
    ]
    v = np.array(embed(client, texts)["embeddings"])
    similar, unrelated = float(v[0] @ v[1]), float(v[0] @ v[2])
    assert similar > 0.6 and unrelated < 0.3 and similar > unrelated + 0.3


def test_same_text_same_vector_in_any_batch(client: TestClient) -> None:
    alone = np.array(embed(client, ["order matters not"])["embeddings"][0])
    batch = np.array(embed(client, ["first", "order matters not", "third"])["embeddings"][1])
    assert np.allclose(alone, batch, atol=1e-5)


def checked_health(client: TestClient) -> dict:
    """/health after a round of checks begun now (the background checker would see the
    change within an interval: servicekit.health)."""
    return testing.fresh_health(client).json()


def test_health_sees_the_model_loaded(client: TestClient) -> None:
    embed(client, ["load"])
    assert checked_health(client)["checks"]["embedding-model"]["status"] == "ok"


@pytest.mark.parametrize(
    ("texts", "status"),
    [([], 422), ([""], 422), (["ok", "   "], 422), ([1, 2], 422), ("not a list", 422)],
)
def test_empty_or_wrong_texts_are_422(client: TestClient, texts, status: int) -> None:
    assert client.post("/embeddings", json={"texts": texts}).status_code == status


def test_missing_texts_is_422(client: TestClient) -> None:
    assert client.post("/embeddings", json={"sentences": ["a"]}).status_code == 422


def test_too_many_texts_is_413(client: TestClient, settings) -> None:
    texts = ["a sentence"] * (settings.embedding_max_batch + 1)
    response = client.post("/embeddings", json={"texts": texts})
    assert response.status_code == 413
    assert f"at most {settings.embedding_max_batch}" in response.json()["detail"]


def test_too_long_text_is_413(client: TestClient, settings) -> None:
    texts = ["fine", "x" * (settings.embedding_max_chars + 1)]
    response = client.post("/embeddings", json={"texts": texts})
    assert response.status_code == 413
    assert "texts[1]" in response.json()["detail"]


def test_loads_and_encodes_with_the_network_blocked(client: TestClient) -> None:
    """The offline switches are set, and loading the packaged model opens no socket."""
    assert os.environ["HF_HUB_OFFLINE"] == "1" and os.environ["TRANSFORMERS_OFFLINE"] == "1"
    import huggingface_hub.constants

    assert huggingface_hub.constants.HF_HUB_OFFLINE is True
    _armed.update(thread=threading.get_ident(), attempts=[])
    try:
        model = load_model(torch.device("cpu"))
        vector = model.encode(["offline"], normalize_embeddings=True)
    finally:
        _armed["thread"] = None
    assert _armed["attempts"] == []
    assert vector.shape == (1, 384)
    # The hook does block: the same thread cannot resolve a name while armed.
    _armed.update(thread=threading.get_ident(), attempts=[])
    try:
        with pytest.raises(PermissionError):
            __import__("socket").getaddrinfo("huggingface.co", 443)
    finally:
        _armed["thread"] = None


def test_without_preload_the_first_request_loads_it(make_client) -> None:
    client = make_client(embedding_preload=False)
    check = client.get("/health").json()["checks"]["embedding-model"]
    assert check["status"] == "degraded" and "first POST /embeddings" in check["detail"]
    assert embed(client, ["now it loads"])["dimension"] == 384
    assert checked_health(client)["checks"]["embedding-model"]["status"] == "ok"
