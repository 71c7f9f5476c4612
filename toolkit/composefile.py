"""The compose files, from the catalog: compose.yaml (every service and its infrastructure,
per profile), compose.test.yaml (each service's test container) and compose.dev.yaml (dev
mode); toolkit.swarmfile makes the Swarm stack files from the same definitions.
"""

from __future__ import annotations

import json
import re

from toolkit import access, envfile, probes
from toolkit.catalog import Catalog, Service
from toolkit.images import INFRA_TAGS
from toolkit.names import PROJECT, Stage, test_container
from toolkit.names import image as image_name

# Where a service with `state: true` keeps what must outlive its container (a named volume);
# the Dockerfile template makes it and gives it to the service's user.
STATE_DIR = "/var/lib/service"
# Infrastructure as each service sees it: the variables a service gets for each backend it
# lists in the catalog. Only services that list a backend receive its credentials.
INFRA_ENV = {
    "postgres": {
        "POSTGRES_HOST": "postgres",
        "POSTGRES_PORT": "5432",
        "POSTGRES_USER": "platform",
        "POSTGRES_PASSWORD": "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD is not set: run inv env}",
        "POSTGRES_DB": "platform",
    },
    "redis": {
        "REDIS_URL": (
            "redis://:${REDIS_PASSWORD:?REDIS_PASSWORD is not set: run inv env}@redis:6379/0"
        ),
    },
    "clickhouse": {
        "CLICKHOUSE_HOST": "clickhouse",
        "CLICKHOUSE_PORT": "9000",
        "CLICKHOUSE_USER": "platform",
        "CLICKHOUSE_PASSWORD": (
            "${CLICKHOUSE_PASSWORD:?CLICKHOUSE_PASSWORD is not set: run inv env}"
        ),
        "CLICKHOUSE_DB": "platform",
    },
}
SECRET_ENV = {
    "jwt": {"JWT_SECRET": "${JWT_SECRET:?JWT_SECRET is not set: run inv env}"},
    # The first admin user-service creates (never a default password: `inv env` makes one).
    "admin": {
        "ADMIN_USERNAME": "${ADMIN_USERNAME:?ADMIN_USERNAME is not set: run inv env}",
        "ADMIN_PASSWORD": "${ADMIN_PASSWORD:?ADMIN_PASSWORD is not set: run inv env}",
    },
}
# Dev mode's server: `uvicorn --reload` whose worker is forked from a parent that has already
# imported every module the app uses outside /app (listed by a throw-away process at start),
# so a reload re-imports only the service's own code (app/, servicekit) instead of paying for
# fastapi, pydantic & co. in a fresh interpreter (~0.4 s from save to answer instead of ~1 s).
# Should uvicorn's internals change, this is plain `uvicorn --reload` again, only slower.


def service_environment(catalog: Catalog, service: Service) -> dict[str, str]:
    """Everything a service reads from its environment, derived from the catalog."""
    env = {
        "ENVIRONMENT": "production",
        "LOG_LEVEL": "${LOG_LEVEL:-INFO}",
        "INTERNAL_TOKEN": f"{service.name}:{_from_env(envfile.token_key(service.name))}",
    }
    if not service.extra.get("gateway"):
        env["INTERNAL_CALLERS"] = internal_callers(catalog, service)
    for infra in service.infrastructure:
        env.update(INFRA_ENV[infra])
    for secret in service.extra.get("secrets", []):
        env.update(SECRET_ENV[secret])
    upstreams = {}
    for dependency in service.depends_on:
        dep = catalog.service(dependency)
        url = f"http://{dep.name}:{dep.port}"
        env[f"{dep.name.upper().replace('-', '_')}_URL"] = url
        upstreams[dep.name] = url
    for used in service.uses:
        dep = catalog.service(used)
        env[f"{dep.name.upper().replace('-', '_')}_URL"] = f"http://{dep.name}:{dep.port}"
    if service.extra.get("gateway"):
        public = [s for s in catalog.services.values() if s.public]
        upstreams.update({s.name: f"http://{s.name}:{s.port}" for s in public})
        env["UPSTREAMS"] = json.dumps(upstreams, separators=(",", ":"))
        env["PUBLIC_SERVICES"] = json.dumps([s.name for s in public], separators=(",", ":"))
        # Which role each public route needs (catalog `access:`), enforced by the gateway.
        rules = {s.name: [rule.as_json() for rule in s.access] for s in public}
        env["ACCESS_RULES"] = json.dumps(rules, separators=(",", ":"))
    # Tuning beyond workers/threads (which the Dockerfile bakes in) reaches the service as
    # upper-case variables, e.g. pool_max -> POOL_MAX.
    env.update(
        {k.upper(): str(v) for k, v in service.tuning.items() if k not in ("workers", "threads")}
    )
    env.update({k: str(v) for k, v in service.extra.get("env", {}).items()})
    return env


def _from_env(key: str) -> str:
    """A compose reference to the env file's `key`, failing with the fix when it is unset."""
    return f"${{{key}:?{key} is not set: run inv env}}"


def internal_callers(catalog: Catalog, service: Service) -> str:
    """INTERNAL_CALLERS (servicekit.internal): the catalog's callers of `service` and the
    operator, each by the sha256 of its secret, held to its `callers:` routes if listed."""
    entries = {}
    for caller in [*catalog.callers_of(service), envfile.OPERATOR]:
        entry: dict = {"sha256": _from_env(envfile.digest_key(caller))}
        if caller in service.callers:
            entry["routes"] = [access.route_json(r) for r in service.callers[caller]]
        entries[caller] = entry
    return json.dumps(entries, separators=(",", ":"))


def _infra_definitions(catalog: Catalog) -> dict[str, dict]:
    definitions = {
        "postgres": {
            "environment": {
                "POSTGRES_USER": "platform",
                "POSTGRES_PASSWORD": INFRA_ENV["postgres"]["POSTGRES_PASSWORD"],
                "POSTGRES_DB": "platform",
            },
            "volumes": ["postgres-data:/var/lib/postgresql/data"],
            "healthcheck": {
                "test": [
                    "CMD",
                    "pg_isready",
                    "-h",
                    "127.0.0.1",
                    "-U",
                    "platform",
                    "-d",
                    "platform",
                ],
                **probes.compose(probes.INFRA_RETRIES),
            },
        },
        "redis": {
            # The password goes into a config file at start, never onto a command line (where
            # `docker inspect` and every process listing would show it). appendonly with the
            # default fsync once a second: what Redis holds (sessions, limits, caches) survives
            # a crash but for its last second of writes.
            "command": [
                "sh",
                "-c",
                'umask 077 && printf "requirepass %s\\n" "$$REDIS_PASSWORD" > /tmp/redis.conf '
                "&& exec redis-server /tmp/redis.conf --appendonly yes --appendfsync everysec "
                "--dir /data --protected-mode no",
            ],
            "environment": {
                "REDIS_PASSWORD": "${REDIS_PASSWORD:?REDIS_PASSWORD is not set: run inv env}"
            },
            "volumes": ["redis-data:/data"],
            "healthcheck": {
                "test": [
                    "CMD-SHELL",
                    'redis-cli --no-auth-warning -a "$$REDIS_PASSWORD" ping | grep -q PONG',
                ],
                **probes.compose(probes.INFRA_RETRIES),
            },
        },
        "clickhouse": {
            "environment": {
                "CLICKHOUSE_USER": "platform",
                "CLICKHOUSE_PASSWORD": INFRA_ENV["clickhouse"]["CLICKHOUSE_PASSWORD"],
                "CLICKHOUSE_DB": "platform",
            },
            "volumes": ["clickhouse-data:/var/lib/clickhouse"],
            "healthcheck": {
                "test": [
                    "CMD-SHELL",
                    'clickhouse-client --user "$$CLICKHOUSE_USER" '
                    '--password "$$CLICKHOUSE_PASSWORD" --query "SELECT 1"',
                ],
                **probes.compose(probes.INFRA_RETRIES),
            },
        },
    }
    result = {}
    for name in catalog.infrastructure:
        result[name] = {
            "image": INFRA_TAGS[name],
            "profiles": [*catalog.infra_profiles(name), "test"],
            "restart": "unless-stopped",
            **definitions[name],
        }
    return result


def _build(service: Service, target: str) -> dict:
    build = {
        "context": "..",
        "dockerfile": f"services/{service.name}/Dockerfile",
        "target": target,
        "secrets": ["ca"],
    }
    if _uses_torch(service):
        # `TORCH_VARIANT=cuda inv build --services deep-learning` builds the CUDA variant.
        build["args"] = {"TORCH_VARIANT": "${TORCH_VARIANT:-cpu}"}
    return build


def _uses_torch(service: Service) -> bool:
    requirements = service.directory / "requirements.txt"
    return (
        requirements.is_file() and re.search(r"(?m)^torch==", requirements.read_text()) is not None
    )


def _depends(catalog: Catalog, service: Service, gate: str = "service_started") -> dict:
    """What a service waits for before compose starts it: only that the containers it needs
    have started. Each waits for them itself, as it must on a swarm (database-service retries
    PostgreSQL with a backoff at start-up, the other clients connect on first use and /health
    reports them until then), so a profile starts at once and is healthy at its services' first
    probes instead of one probe per tier (toolkit.probes). A test container waits for
    `service_healthy`: its fixtures use what it needs at once."""
    return {name: {"condition": gate} for name in [*service.infrastructure, *service.depends_on]}


# Least privilege for every container: no capabilities, no privilege gained through setuid
# binaries. The infrastructure images of a registry start as root and drop to their own user
# (gosu, chown of the data directory), which needs these five; ours start unprivileged.
HARDENING = {"cap_drop": ["ALL"], "security_opt": ["no-new-privileges:true"]}
INFRA_CAPS = ["CHOWN", "DAC_OVERRIDE", "FOWNER", "SETGID", "SETUID"]
# Resource limits when the catalog names none (`limits: {memory_mb, pids}` per service).
DEFAULT_LIMITS = {"memory_mb": 1024, "pids": 512}
INFRA_LIMITS = {"postgres": 1024, "redis": 512, "clickhouse": 2048}


def _limits(service: Service) -> dict:
    limits = {**DEFAULT_LIMITS, **service.extra.get("limits", {})}
    return {"mem_limit": f"{int(limits['memory_mb'])}m", "pids_limit": int(limits["pids"])}


def networks(catalog: Catalog) -> dict[str, list[str]]:
    """The networks each container joins: `to-X` holds X and whoever the catalog lets call X
    (depends_on, uses, its infrastructure; the gateway for the public services), so a
    container can resolve and reach only what its entry names."""
    member: dict[str, set[str]] = {name: {f"to-{name}"} for name in catalog.infrastructure}
    public = [s.name for s in catalog.services.values() if s.public]
    for service in catalog.services.values():
        reaches = [*service.depends_on, *service.uses, *service.infrastructure]
        if service.extra.get("gateway"):
            reaches += public
        member[service.name] = {f"to-{service.name}", *(f"to-{r}" for r in reaches)}
    return {name: sorted(nets) for name, nets in member.items()}


def compose(catalog: Catalog) -> dict:
    services = _infra_definitions(catalog)
    joined = networks(catalog)
    for name, definition in services.items():
        definition.update(HARDENING, cap_add=INFRA_CAPS, networks=joined[name])
        definition["mem_limit"] = f"{INFRA_LIMITS.get(name, 1024)}m"
        definition["pids_limit"] = 512
    for service in catalog.services.values():
        definition = {
            "build": _build(service, "production"),
            "image": image_name(service.name, Stage.PRODUCTION),
            "profiles": [*catalog.profiles_of(service), "test"],
            "environment": service_environment(catalog, service),
            "restart": "unless-stopped",
            # Nothing but the state volume (and /tmp) is writable in a service's container.
            "read_only": True,
            "tmpfs": ["/tmp"],  # noqa: S108 - a tmpfs of its own, not a shared /tmp
            **HARDENING,
            **_limits(service),
            "networks": joined[service.name],
        }
        if service.publish:
            definition["ports"] = [f"127.0.0.1:{service.port}:{service.port}"]
        if service.extra.get("state"):
            definition["volumes"] = [f"{service.name}-state:{STATE_DIR}"]
        if needs := _depends(catalog, service):
            definition["depends_on"] = needs
        services[service.name] = definition
    volumes = {f"{name}-data": {} for name in catalog.infrastructure}
    volumes.update(
        {f"{s.name}-state": {} for s in catalog.services.values() if s.extra.get("state")}
    )
    return {
        "name": PROJECT,
        "services": services,
        "networks": {net: {} for net in sorted({n for nets in joined.values() for n in nets})},
        "volumes": volumes,
        "secrets": {"ca": {"file": "${BUILD_CA_BUNDLE:?BUILD_CA_BUNDLE is not set: run inv env}"}},
    }


def compose_tests(catalog: Catalog) -> dict:
    """One `<service>-tests` container per service: its test image on the stack's network,
    with what the service needs running and healthy."""
    services = {}
    joined = networks(catalog)
    for service in catalog.services.values():
        env = service_environment(catalog, service)
        env["ENVIRONMENT"] = "test"
        # The suites call their own app, and seed what they need, as the operator.
        env["TESTS_INTERNAL_TOKEN"] = (
            f"{envfile.OPERATOR}:{_from_env(envfile.token_key(envfile.OPERATOR))}"
        )
        env.update({k: str(v) for k, v in service.extra.get("test_env", {}).items()})
        definition = {
            "build": _build(service, "test"),
            "image": image_name(service.name, Stage.TEST),
            "profiles": ["test"],
            "environment": env,
            # The suite reaches what its service may reach, and the service's own network.
            "networks": joined[service.name],
        }
        if needs := _depends(catalog, service, "service_healthy"):
            definition["depends_on"] = needs
        services[test_container(service.name)] = definition
    return {"services": services}


def compose_dev(catalog: Catalog) -> dict:
    """Dev mode, layered over compose.yaml (`inv dev`): each service's `application` stage,
    run by servicekit.devserver (uvicorn --reload), with its source bind-mounted read-only, so
    a saved file reaches the running service without a rebuild. Same service names, ports and
    environment as production, so a dev container replaces the production one in the project.
    DEV_SOURCE_ROOT points the mounts at another tree (the reload benchmark's temporary copy);
    by default they are this checkout."""
    root = "${DEV_SOURCE_ROOT:-..}"
    services = {}
    for service in catalog.services.values():
        services[service.name] = {
            "build": {"target": "application"},
            "image": image_name(service.name, Stage.APPLICATION),
            "environment": {"ENVIRONMENT": "development", "PYTHONDONTWRITEBYTECODE": "1"},
            "volumes": [
                {
                    "type": "bind",
                    "source": f"{root}/services/{service.name}/app",
                    "target": "/app/app",
                    "read_only": True,
                },
                {
                    "type": "bind",
                    "source": f"{root}/libs/servicekit/src/servicekit",
                    "target": "/app/servicekit",
                    "read_only": True,
                },
            ],
            "command": ["python3", "-m", "servicekit.devserver"],
            # The application stage has no HEALTHCHECK; `inv dev` waits on this one.
            "healthcheck": {
                "test": ["CMD", "python3", "-m", "servicekit.healthcheck"],
                **probes.compose(),
            },
        }
    return {"services": services}
