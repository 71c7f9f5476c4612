"""Swarm stack files: the services, networks and volumes of compose.yaml, from the same
catalog (composefile.compose is their one source), in the form `docker stack deploy` takes; one
file per profile (compose/stack.<profile>.yaml), committed and drift-checked like compose's.

What changes on the way (`docker stack deploy` ignores `build` and `depends_on` and rejects
`profiles`):
- no build, no depends_on: every service waits for its backends itself (servicekit's retries,
  health that reports a backend down); the image is `${TIERED_IMAGE_<NAME>}`, a tag the toolkit
  makes from the image's id at deploy time, so a new build is a new spec and rolls;
- a service's secrets (passwords, JWT secret, its internal credential, the Redis URL holding a
  password) are Swarm secrets, mounted as /run/secrets/<variable> and read by servicekit's
  settings; their names come from the environment too (`${TIERED_SECRET_...}`: a hash of the
  content, as Swarm secrets are immutable). Infrastructure keeps its password variables
  (its images read them from the environment), interpolated at deploy time;
- `deploy:` per service: replicas from the catalog (`replicas:`, stateless services only),
  stateful ones and the infrastructure pinned to a manager node with their volumes and
  replaced stop-first (never two processes on one volume), the rest start-first;
  `failure_action: rollback` with a `monitor` longer than the health check's start period
  plus interval times retries, so a rollout that never gets healthy is rolled back rather
  than declared done;
- endpoint mode and port mode from the environment: `dnsrr` and host-mode publishing where
  the kernel has no IPVS (this machine), Swarm's defaults (`vip`, the routing mesh) where it
  has (the toolkit decides, toolkit.stack.swarm.modes);
- overlay networks, the same `to-X` ones; `/tmp` as a tmpfs mount; memory limits as
  `deploy.resources`. Swarm on engine 20.10 takes no `security_opt` or `pids_limit`: the
  stack has no no-new-privileges and no pids limit (compose has both).
"""

from __future__ import annotations

import re
from pathlib import Path

from toolkit import composefile, envfile, probes
from toolkit.catalog import Catalog
from toolkit.names import COMPOSE_DIR

VERSION = "3.8"
# Health in the swarm: the image's probe and timing (toolkit.probes), with a shorter start
# period Swarm waits out before it counts failures (a broken rollout is declared sooner); a
# rollout is watched for longer than a task can take to turn unhealthy.
HEALTH = {**probes.compose(), "start_period": "30s"}
# Beyond the latest moment a new task can turn unhealthy, a margin for the probe's own timeout.
MONITOR_MARGIN_SECONDS = 10
SECRET_REFERENCE = re.compile(r"\$\{(\w+)")


def path(profile: str) -> Path:
    """A profile's stack file: compose/stack.<profile>.yaml."""
    return COMPOSE_DIR / f"stack.{profile}.yaml"


def variable(*parts: str) -> str:
    """An environment variable's name for a deploy-time value: TIERED_IMAGE_USER_SERVICE."""
    return "_".join(p.upper().replace("-", "_") for p in ("TIERED", *parts))


def secret_key(service: str, name: str) -> str:
    """A secret's key in the stack file: one per service and variable."""
    return f"{service}--{name.lower()}"


def service_secrets(catalog: Catalog, name: str) -> dict[str, str]:
    """A service's variables that carry a secret of the env file: name -> compose's template
    of its value (the toolkit interpolates it into the secret's content)."""
    environment = composefile.service_environment(catalog, catalog.service(name))
    secret_keys = set(envfile.secret_keys())
    return {
        key: value
        for key, value in environment.items()
        if any(ref in secret_keys for ref in SECRET_REFERENCE.findall(str(value)))
    }


def _seconds(duration: str) -> int:
    return int(str(duration).rstrip("s"))


def monitor_seconds(health: dict) -> int:
    """How long Swarm watches each updated task: past its start period and as many failed
    probes as make it unhealthy, so a task that never gets healthy fails its rollout."""
    probes = _seconds(health["interval"]) * int(health["retries"])
    return _seconds(health["start_period"]) + probes + MONITOR_MARGIN_SECONDS


def _deploy(stateful: bool, replicas: int, memory: str, manager: bool, health: dict) -> dict:
    update = {
        "parallelism": 1,
        "delay": "1s",
        "order": "stop-first" if stateful else "start-first",
        "failure_action": "rollback",
        "monitor": f"{monitor_seconds(health)}s",
    }
    deploy: dict = {
        "replicas": replicas,
        "endpoint_mode": "${SWARM_ENDPOINT_MODE:-dnsrr}",
        "resources": {"limits": {"memory": memory}},
        "restart_policy": {"condition": "any", "delay": "2s"},
        "update_config": update,
        "rollback_config": {k: v for k, v in update.items() if k != "failure_action"},
    }
    if manager:
        deploy["placement"] = {"constraints": ["node.role == manager"]}
    return deploy


def stack_file(catalog: Catalog, profile: str) -> dict:
    """The stack file of a profile (cumulative tiers, like compose's profiles)."""
    composed = composefile.compose(catalog)
    wanted = {s.name for s in catalog.profile(profile)}
    infra = catalog.profile_infrastructure(profile)
    services: dict[str, dict] = {}
    secrets: dict[str, dict] = {}
    for name in infra:
        definition = composed["services"][name]
        services[name] = {
            "image": definition["image"],
            **{
                k: definition[k]
                for k in ("command", "environment", "healthcheck")
                if k in definition
            },
            "volumes": definition["volumes"],
            "cap_drop": definition["cap_drop"],
            "cap_add": definition["cap_add"],
            "networks": definition["networks"],
            "deploy": _deploy(
                True, 1, definition["mem_limit"], manager=True, health=definition["healthcheck"]
            ),
        }
    for service in catalog.services.values():
        if service.name not in wanted:
            continue
        definition = composed["services"][service.name]
        hidden = service_secrets(catalog, service.name)
        entry: dict = {
            "image": f"${{{variable('image', service.name)}:-{definition['image']}}}",
            "environment": {k: v for k, v in definition["environment"].items() if k not in hidden},
            "secrets": [
                {"source": secret_key(service.name, key), "target": key.lower()} for key in hidden
            ],
            "read_only": True,
            "volumes": [
                *definition.get("volumes", []),
                {"type": "tmpfs", "target": "/tmp"},  # noqa: S108 - a tmpfs of its own
            ],
            "cap_drop": definition["cap_drop"],
            "networks": definition["networks"],
            "healthcheck": {"test": ["CMD", "python3", "-m", "servicekit.healthcheck"], **HEALTH},
            "deploy": _deploy(
                bool(service.extra.get("state")),
                int(service.extra.get("replicas", 1)),
                definition["mem_limit"],
                manager=bool(service.extra.get("state")),
                health=HEALTH,
            ),
        }
        if service.publish:
            # Host-mode publishing gives the port to one task per node: the toolkit deploys
            # such a service with as many replicas as there are nodes (TIERED_REPLICAS_...)
            # when Swarm's routing mesh is unavailable (no IPVS).
            replicas = entry["deploy"]["replicas"]
            entry["deploy"]["replicas"] = f"${{{variable('replicas', service.name)}:-{replicas}}}"
            entry["ports"] = [
                {
                    "target": service.port,
                    "published": service.port,
                    "protocol": "tcp",
                    "mode": "${SWARM_PUBLISH_MODE:-host}",
                }
            ]
        services[service.name] = entry
        for key in hidden:
            secrets[secret_key(service.name, key)] = {
                "external": True,
                "name": f"${{{variable('secret', service.name, key)}}}",
            }
    used_networks = sorted({n for s in services.values() for n in s["networks"]})
    used_volumes = sorted(
        {
            v.split(":", 1)[0]
            for s in services.values()
            for v in s.get("volumes", [])
            if isinstance(v, str)
        }
    )
    return {
        "version": VERSION,
        "services": services,
        "networks": {n: {"driver": "overlay"} for n in used_networks},
        "volumes": {v: {} for v in used_volumes},
        "secrets": secrets,
    }
