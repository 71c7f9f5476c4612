"""POST /embeddings: unit-length sentence vectors from all-MiniLM-L6-v2."""

import orjson
from fastapi import APIRouter, HTTPException, Response, status

from app.api.deps import BackendsDep, SettingsDep
from app.core.config import Settings
from app.embeddings import MODEL_NAME
from app.schemas import EmbeddingsCreate, EmbeddingsPublic

router = APIRouter(tags=["embeddings"])


def check_texts(texts: list[str], settings: Settings) -> None:
    """413 beyond the count or length bounds; 422 for a text with nothing in it."""
    if len(texts) > settings.embedding_max_batch:
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE,
            f"{len(texts)} texts; at most {settings.embedding_max_batch} per request",
        )
    for i, text in enumerate(texts):
        if not text.strip():
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT, f"texts[{i}] is empty or only whitespace"
            )
        if len(text) > settings.embedding_max_chars:
            raise HTTPException(
                status.HTTP_413_CONTENT_TOO_LARGE,
                f"texts[{i}] has {len(text)} characters; at most {settings.embedding_max_chars}",
            )


@router.post("/embeddings", responses={200: {"model": EmbeddingsPublic}})
async def create_embeddings(
    body: EmbeddingsCreate, backends: BackendsDep, settings: SettingsDep
) -> Response:
    """One 384-dimensional unit vector per text, in the order given."""
    check_texts(body.texts, settings)
    embedder = backends.embedder
    await embedder.ready()
    vectors = await backends.pool.run(embedder.encode, body.texts)
    answer = {
        "model": MODEL_NAME,
        "dimension": int(vectors.shape[1]),
        "normalized": True,
        "embeddings": vectors,
    }
    # orjson writes the float32 array directly: 32 x 384 floats without a Python list each.
    return Response(
        orjson.dumps(answer, option=orjson.OPT_SERIALIZE_NUMPY), media_type="application/json"
    )
