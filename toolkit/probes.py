"""How often the engine asks a container for its health: one timing for the Dockerfile
template's HEALTHCHECK, the compose files' checks (infrastructure, dev mode) and the swarm's.

Every probe is an exec into the container, and the engine's side of an exec (dockerd,
containerd, the shim, runc) costs far more than the probe itself. Measured on this 2-core
machine, ten idle containers: no health check 3% of a core; a `python3 -I -S -c pass` probe
every 2 s 56%, a probe importing urllib 57% (the probe's own cost hardly counts); every 5 s 15%.
The full profile idling with 2 s probes kept 1.46 of the 2 cores busy. Engines from 25 on have
`start_interval` (fast probes while starting, slow ones after); 20.10, which this platform
supports, refuses it, so one interval has to serve both: 5 s.

Start-up does not wait on it more than once: only infrastructure gates its dependants on
`service_healthy` (toolkit.composefile); services start together and wait for each other
themselves, as they must on a swarm, so a profile is healthy at its services' first or second
probe instead of one probe per tier.
"""

INTERVAL_S = 5
TIMEOUT_S = 3
# Failures within it do not count: a first start (initdb, a model loading) may take this long.
START_PERIOD_S = 60
# Unhealthy after this many failed probes in a row: 15 s for a service.
RETRIES = 3
# The stores get a minute: a busy PostgreSQL or ClickHouse can miss a probe or two.
INFRA_RETRIES = 12


def compose(retries: int = RETRIES) -> dict:
    """The timing keys of a compose `healthcheck:`."""
    return {
        "interval": f"{INTERVAL_S}s",
        "timeout": f"{TIMEOUT_S}s",
        "retries": retries,
        "start_period": f"{START_PERIOD_S}s",
    }


def dockerfile_flags() -> str:
    """The same timing as HEALTHCHECK options."""
    return (
        f"--interval={INTERVAL_S}s --timeout={TIMEOUT_S}s "
        f"--start-period={START_PERIOD_S}s --retries={RETRIES}"
    )
