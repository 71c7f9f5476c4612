"""The running stack's containment, asked of the engine and of the containers themselves: least
privilege for every container, networks that let a service reach only what its catalog entry
names, and no infrastructure door without its credential."""

import pytest

from toolkit import catalog, composefile, envfile, stack

pytestmark = pytest.mark.docker

CATALOG = catalog.load()


@pytest.fixture(scope="module")
def containers() -> dict:
    running = stack.containers()
    missing = [n for n in [*CATALOG.infrastructure, *CATALOG.services] if n not in running]
    assert not missing, f"not running: {missing} (nox -s e2e starts the full profile)"
    return running


def _python(container, code: str) -> str:
    return str(container.execute(["python3", "-c", code])).strip()


def test_every_container_has_least_privilege_and_limits(containers):
    for name, container in containers.items():
        if name not in CATALOG.services and name not in CATALOG.infrastructure:
            continue
        host = container.host_config
        assert host.cap_drop == ["ALL"], name
        assert "no-new-privileges:true" in (host.security_opt or []), name
        assert host.memory and host.memory > 0, name
        assert host.pids_limit and host.pids_limit > 0, name
        if name in CATALOG.services:
            assert host.readonly_rootfs is True, name
            assert container.config.user not in ("", "0", "root"), name


def test_a_service_can_resolve_only_what_shares_a_network_with_it(containers):
    # `to-X` holds X and its callers, so a service reaches its dependencies and, through
    # them, their other callers; the infrastructure only where its entry names it.
    joined = composefile.networks(CATALOG)
    everyone = [*CATALOG.infrastructure, *CATALOG.services]
    probe = (
        "import socket\n"
        f"for name in {everyone!r}:\n"
        "    try:\n"
        "        socket.gethostbyname(name); print(name)\n"
        "    except OSError:\n"
        "        pass\n"
    )
    for name in ("data-bridge", "ml-processing", "api-gateway", "ai-provider"):
        resolved = set(_python(containers[name], probe).split())
        sharing = {n for n in everyone if set(joined[n]) & set(joined[name])}
        assert resolved == sharing, name
        infrastructure = resolved & set(CATALOG.infrastructure)
        assert infrastructure == set(CATALOG.service(name).infrastructure), name
    # The rule the seed states: only database-service reaches PostgreSQL and ClickHouse.
    for name in CATALOG.services:
        if name != "database-service":
            assert "to-clickhouse" not in joined[name] and "to-postgres" not in joined[name]


def test_clickhouse_has_no_passwordless_user_on_the_network(containers):
    code = (
        "import urllib.request, urllib.error\n"
        "try:\n"
        "    urllib.request.urlopen('http://clickhouse:8123/?user=default&query=SELECT%201',"
        " timeout=5)\n"
        "    print('open')\n"
        "except urllib.error.HTTPError as exc:\n"
        "    print(exc.code)\n"
    )
    # From database-service, the one container on ClickHouse's network.
    assert _python(containers["database-service"], code) in ("401", "403", "516")


def test_no_secret_is_on_a_command_line(containers):
    secrets = [
        value
        for key, value in envfile.read().items()
        if value and any(word in key for word in ("PASSWORD", "SECRET", "TOKEN"))
    ]
    assert secrets
    for name, container in containers.items():
        command = " ".join([*(container.config.entrypoint or []), *(container.config.cmd or [])])
        for value in secrets:
            assert value not in command, f"{name} has a secret on its command line"


def test_a_neighbour_on_a_shared_network_is_no_caller(containers):
    # data-bridge and trading-engine both call database-service, so they share its network
    # and can resolve each other; data-bridge's own credential still opens nothing there.
    code = (
        "import os, urllib.request, urllib.error\n"
        "request = urllib.request.Request('http://trading-engine:8002/openapi.json',"
        " headers={'X-Internal-Token': os.environ['INTERNAL_TOKEN']})\n"
        "try:\n"
        "    urllib.request.urlopen(request, timeout=5); print('open')\n"
        "except urllib.error.HTTPError as exc:\n"
        "    print(exc.code)\n"
    )
    assert _python(containers["data-bridge"], code) == "401"


def test_each_service_holds_its_own_secret_and_only_digests_of_its_callers(containers):
    values = envfile.read()
    secrets = {
        name: values[envfile.token_key(name)] for name in [*CATALOG.services, envfile.OPERATOR]
    }
    for name in CATALOG.services:
        environment = "\n".join(containers[name].config.env)
        held = {owner for owner, secret in secrets.items() if secret in environment}
        assert held == {name}, f"{name} holds the secrets of {sorted(held)}"
