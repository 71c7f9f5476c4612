"""GET /v1/models: every model this service can answer with, its prices and tasks."""

from fastapi import APIRouter

from app.api.deps import BackendsDep

router = APIRouter(prefix="/v1", tags=["models"])


@router.get("/models")
async def list_models(backends: BackendsDep) -> dict:
    """Chat models (offline-template last), then embedding models. `price_source` says where
    the prices come from; "none" means unknown, counted as free."""
    return {"object": "list", "data": backends.registry.public()}
