"""Every tier-1 and tier-2 image builds with the build's network disabled, from the wheelhouse
alone (`nox -s offline_build` fills the wheelhouse for those tiers first)."""

import subprocess

import pytest
import yaml

from toolkit import catalog, stack, wheels

pytestmark = pytest.mark.docker
OFFLINE = [s.name for tier in wheels.OFFLINE_TIERS for s in catalog.load().tier(tier)]


@pytest.mark.parametrize("service", OFFLINE)
def test_offline_build_uses_no_network(service: str, tmp_path) -> None:
    override = tmp_path / "offline.yaml"
    override.write_text(yaml.safe_dump({"services": {service: {"build": {"network": "none"}}}}))
    result = subprocess.run(
        [*stack.compose_argv(override), "build", "--no-cache", "--progress", "plain", service],
        capture_output=True,
        text=True,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "from the wheelhouse, no index used" in output
    assert "falling back to the online index" not in output
