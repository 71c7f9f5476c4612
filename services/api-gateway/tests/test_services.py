"""Routing of /api/<service>/...: public services only, path and query kept."""

import pytest

PUBLIC_LIST = "echo-service, slow-service, down-service, garbage-service, resetting-service"


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
def test_public_service_gets_every_method(gateway, session, method):
    response = gateway.request(method, "/api/echo-service/items/7", headers=session.headers)
    assert response.status_code == 200
    echoed = response.json()
    assert echoed["method"] == method
    assert echoed["path"] == "/items/7"


def test_head_is_forwarded(gateway, session):
    response = gateway.head("/api/echo-service/items/7", headers=session.headers)
    assert response.status_code == 200
    assert response.content == b""
    assert int(response.headers["content-length"]) > 0  # the upstream's GET-sized answer


def test_query_string_and_encoded_path_are_kept(gateway, session):
    response = gateway.get(
        "/api/echo-service/files/a%2Fb%20c?q=x%20y&tag=1&tag=2", headers=session.headers
    )
    echoed = response.json()
    assert echoed["raw_path"] == "/files/a%2Fb%20c"
    assert echoed["query"] == "q=x%20y&tag=1&tag=2"


@pytest.mark.parametrize("path", ["/api/echo-service", "/api/echo-service/"])
def test_service_root(gateway, session, path):
    response = gateway.get(path, headers=session.headers)
    assert response.status_code == 200
    assert response.json()["path"] == "/"


@pytest.mark.parametrize("service", ["database-service", "user-service", "nope"])
def test_non_public_services_are_404_listing_public_ones(gateway, session, service):
    response = gateway.get(f"/api/{service}/users", headers=session.headers)
    assert response.status_code == 404
    assert response.json() == {
        "detail": f"unknown service '{service}'; public services: {PUBLIC_LIST}"
    }


def test_unknown_service_is_404_even_without_token(gateway):
    assert gateway.post("/api/database-service/users", json={}).status_code == 404


def test_no_public_services(make_gateway, session):
    gateway = make_gateway(public_services=[])
    response = gateway.get("/api/echo-service/x", headers=session.headers)
    assert response.status_code == 404
    assert response.json()["detail"] == "unknown service 'echo-service'; public services: none"


def test_upstream_status_and_repeated_headers_are_relayed(gateway, session):
    teapot = gateway.get("/api/echo-service/status/418", headers=session.headers)
    assert teapot.status_code == 418
    assert teapot.json() == {"status": 418}
    cookies = gateway.get("/api/echo-service/cookies", headers=session.headers)
    set_cookie = cookies.headers.get_list("set-cookie")
    assert [c.split(";")[0] for c in set_cookie] == ["a=1", "b=2"]


def test_large_response_is_streamed_intact(gateway, session):
    from tests.upstreams import BIG_CHUNK, BIG_CHUNKS

    response = gateway.get("/api/echo-service/big", headers=session.headers)
    assert response.status_code == 200
    assert response.content == BIG_CHUNK * BIG_CHUNKS
