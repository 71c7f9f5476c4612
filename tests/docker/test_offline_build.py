"""Every service's image builds with the build's network disabled, from the wheelhouse alone
(`nox -s offline_build` fills the wheelhouse for every tier first)."""

import pytest
import yaml

from toolkit import catalog, stack, wheels

pytestmark = pytest.mark.docker
OFFLINE = [s.name for tier in wheels.OFFLINE_TIERS for s in catalog.load().tier(tier)]


@pytest.mark.parametrize("service", OFFLINE)
def test_offline_build_uses_no_network(service: str, tmp_path) -> None:
    override = tmp_path / "offline.yaml"
    override.write_text(yaml.safe_dump({"services": {service: {"build": {"network": "none"}}}}))
    log = tmp_path / "build.log"
    with log.open("w") as out:  # the whole plain progress, checked for the wheelhouse's line
        stack.run(
            stack.cli(override).argv("build", "--no-cache", "--progress", "plain", service),
            doing=f"building {service} with the network off",
            log=out,
        )
    output = log.read_text()
    assert "from the wheelhouse, no index used" in output
    assert "falling back to the online index" not in output
