"""servicekit.internal: only a caller holding a credential gets past /health, and only onto its
routes; the catalog and the env file give every service exactly its callers' digests."""

import json

import pytest
from fastapi import APIRouter, Request, WebSocket
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from servicekit.app import create_app
from servicekit.internal import credential, digest, parse_callers, rule_matches
from servicekit.settings import ServiceSettings
from toolkit import catalog, composefile, envfile

SECRETS = {"api-gateway": "gw-secret-1", "data-bridge": "db-secret-2", "operator": "op-secret-3"}
CALLERS = {
    "api-gateway": {"sha256": digest(SECRETS["api-gateway"])},
    "data-bridge": {
        "sha256": digest(SECRETS["data-bridge"]),
        "routes": [{"methods": ["POST"], "path": "/market/ticks"}],
    },
}


def _app(callers=CALLERS) -> TestClient:
    router = APIRouter()

    @router.get("/users/{user_id}")
    async def user(user_id: str, request: Request) -> dict:
        return {"id": user_id, "caller": request.scope["state"]["internal_caller"]}

    @router.post("/market/ticks")
    async def ticks(body: dict) -> dict:
        return {"stored": len(body)}

    @router.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("hello")
        await websocket.close()

    settings = ServiceSettings(
        service_name="database-service", environment="test", internal_callers=callers
    )
    return TestClient(create_app(settings, routers=[router]))


def _as(name: str, secret: str | None = None) -> dict[str, str]:
    return {"X-Internal-Token": credential(name, secret or SECRETS[name])}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Internal-Token": ""},
        {"X-Internal-Token": "api-gateway"},
        {"X-Internal-Token": SECRETS["api-gateway"]},  # the secret without the name
        {"X-Internal-Token": credential("api-gateway", "wrong")},
        {"X-Internal-Token": credential("data-bridge", SECRETS["api-gateway"])},  # another's
        {"X-Internal-Token": credential("operator", SECRETS["operator"])},  # not a caller here
        {"X-Internal-Token": "api-gateway:gw-secret-1\u00e9".encode()},  # bytes past ASCII
    ],
)
def test_a_request_without_a_valid_credential_is_refused_before_routing(headers):
    client = _app()
    answer = client.get("/users/1", headers=headers)
    assert answer.status_code == 401, answer.text
    assert answer.json() == {"detail": "missing or invalid internal credential"}
    # Before body parsing too: a bad body gets the same 401, teaching nothing about validation.
    refused = client.post("/market/ticks", content=b"{not json", headers=headers)
    assert refused.status_code == 401
    assert answer.headers["x-request-id"]  # the request still has its id and its log line


def test_the_caller_is_known_to_the_route():
    answer = _app().get("/users/7", headers=_as("api-gateway"))
    assert answer.status_code == 200
    assert answer.json() == {"id": "7", "caller": "api-gateway"}


def test_a_caller_is_held_to_its_routes():
    client = _app()
    assert (
        client.post("/market/ticks", json={"a": 1}, headers=_as("data-bridge")).status_code == 200
    )
    refused = client.get("/users/7", headers=_as("data-bridge"))
    assert refused.status_code == 403
    assert refused.json() == {"detail": "data-bridge may not call GET /users/7 on database-service"}
    assert client.get("/market/ticks", headers=_as("data-bridge")).status_code == 403


def test_health_answers_without_a_credential_and_nothing_else_does():
    client = _app()
    with client:  # the lifespan runs the health checks /health answers from
        assert client.get("/health").status_code == 200
    assert client.get("/health/live").status_code == 200
    assert client.post("/health").status_code == 401
    assert client.get("/openapi.json").status_code == 401
    assert client.get("/docs").status_code == 401
    assert client.get("/nowhere").status_code == 401  # not even whether a route exists


def test_no_callers_means_nothing_but_health():
    client = _app(callers={})
    assert client.get("/users/1", headers=_as("api-gateway")).status_code == 401
    assert client.get("/health/live").status_code == 200


def test_a_websocket_handshake_needs_the_credential():
    client = _app()
    with pytest.raises(WebSocketDisconnect) as refused, client.websocket_connect("/ws"):
        pass
    assert refused.value.code == 1008
    with client.websocket_connect("/ws", headers=_as("api-gateway")) as ws:
        assert ws.receive_text() == "hello"


def test_malformed_callers_are_refused_at_start():
    with pytest.raises(ValueError, match="sha256 must be 64"):
        parse_callers({"x": {"sha256": "abc"}})
    with pytest.raises(ValueError, match="must be an object"):
        ServiceSettings(environment="test", internal_callers={"x": "abc"})


@pytest.mark.parametrize(
    ("methods", "prefix", "method", "path", "expected"),
    [
        ((), "/users", "PATCH", "/users/1", True),
        (("GET",), "/market/candles", "HEAD", "/market/candles", True),
        (("POST",), "/market/ticks", "GET", "/market/ticks", False),
        ((), "/market/ticks", "POST", "/market/ticksx", False),
        ((), "/models/*/promote", "POST", "/models/v3/promote", True),
        ((), "/a/b", "GET", "/a", False),
        ((), "/a", "GET", "//a//b", True),
    ],
)
def test_rule_matching(methods, prefix, method, path, expected):
    assert rule_matches(methods, prefix, method, path) is expected


# ---- what the catalog and the env file hand each service -------------------------------------


def _rendered_callers(name: str) -> dict:
    cat = catalog.load()
    raw = composefile.internal_callers(cat, cat.service(name))
    return json.loads(raw)


def test_each_service_accepts_exactly_its_catalog_callers_and_the_operator():
    cat = catalog.load()
    for service in cat.services.values():
        env = composefile.service_environment(cat, service)
        assert env["INTERNAL_TOKEN"].startswith(f"{service.name}:${{INTERNAL_TOKEN_")
        if service.extra.get("gateway"):
            assert "INTERNAL_CALLERS" not in env  # the public door takes tokens, not credentials
            continue
        callers = _rendered_callers(service.name)
        assert set(callers) == {*cat.callers_of(service), envfile.OPERATOR}, service.name
        for caller, entry in callers.items():
            key = envfile.digest_key(caller)
            assert entry["sha256"] == f"${{{key}:?{key} is not set: run inv env}}"


def test_only_user_service_may_touch_users():
    callers = _rendered_callers("database-service")
    for name, entry in callers.items():
        routes = entry.get("routes")
        may_touch_users = routes is None or any(r["path"].startswith("/users") for r in routes)
        assert may_touch_users == (name in ("user-service", envfile.OPERATOR)), name


def test_only_the_gateway_is_published():
    published = [s.name for s in catalog.load().services.values() if s.publish]
    assert published == ["api-gateway"]
    compose = composefile.compose(catalog.load())
    assert [n for n, d in compose["services"].items() if "ports" in d] == ["api-gateway"]


def test_the_env_file_holds_each_callers_secret_and_its_digest(tmp_path):
    path = tmp_path / "compose.env"
    path.write_text("INTERNAL_TOKEN=the-old-shared-one\n")
    envfile.ensure(path)
    values = envfile.read(path)
    assert "INTERNAL_TOKEN" not in values  # retired
    names = [*catalog.load().services, envfile.OPERATOR]
    secrets = [values[envfile.token_key(n)] for n in names]
    assert len(set(secrets)) == len(names)  # one each, none shared
    for name in names:
        assert values[envfile.digest_key(name)] == digest(values[envfile.token_key(name)])
    # A secret changed by hand gets its digest again; the others stay.
    key = envfile.token_key("data-bridge")
    path.write_text(path.read_text().replace(values[key], "hand-made-secret-9"))
    envfile.ensure(path)
    again = envfile.read(path)
    assert again[envfile.digest_key("data-bridge")] == digest("hand-made-secret-9")
    assert again[envfile.token_key("api-gateway")] == values[envfile.token_key("api-gateway")]
    assert envfile.operator_credential(path) == f"operator:{again[envfile.token_key('operator')]}"


def test_a_caller_the_catalog_does_not_know_is_refused(tmp_path):
    text = catalog.CATALOG_FILE.read_text().replace(
        "      user-service: [{path: /users}]",
        "      user-service: [{path: /users}]\n      ai-provider: [{path: /users}]",
    )
    assert text != catalog.CATALOG_FILE.read_text()
    broken = tmp_path / "catalog.yaml"
    broken.write_text(text)
    with pytest.raises(Exception, match="ai-provider does not call database-service"):
        catalog.load(broken)
