"""Dev mode: services run their mounted source and reload on save."""

from __future__ import annotations

from invoke import task

from toolkit import devloop
from toolkit.commands import common
from toolkit.console import console


@task(
    help={
        "services": "services and/or profiles, comma or space separated (e.g. api-gateway)",
        "timeout": "seconds to wait for health",
        "build_": "rebuild the dev images even when nothing changed",
        "measure": "then measure save-to-reload over N rounds (a copy of the source is edited)",
    }
)
@common.friendly
def dev(c, services, timeout=300, build_=False, measure=0):
    """Dev mode: services run their source with reload (a saved file needs no rebuild).

    Their dependencies run from production images; `inv up --profile P` ends dev mode."""
    cat = common.load_catalog()
    devloop.print_states(devloop.start(cat, services, timeout=float(timeout), force_build=build_))
    console.print(
        "save a file under services/<name>/app or libs/servicekit and the service reloads; "
        "`inv up --profile core` goes back to production"
    )
    for service in devloop.resolve(cat, services) if int(measure) else []:
        summary = devloop.measure_reload(cat, service, int(measure))
        console.print(
            f"{service.name}: save-to-reload median {summary['median'] * 1000:.0f} ms "
            f"(min {summary['min'] * 1000:.0f}, max {summary['max'] * 1000:.0f}) "
            f"over {measure} rounds"
        )
