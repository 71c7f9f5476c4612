"""toolkit/swarmfile.py: the Swarm stack files say what compose.yaml says, in the form
`docker stack deploy` takes, with secrets as Swarm secrets and rollouts that roll back."""

import re

import pytest

from toolkit import catalog, composefile, envfile, render, swarmfile

CATALOG = catalog.load()


@pytest.fixture(params=list(CATALOG.profiles))
def profile(request):
    return request.param


def test_a_stack_file_runs_its_profile_and_nothing_stack_deploy_rejects(profile):
    stack = swarmfile.stack_file(CATALOG, profile)
    expected = {s.name for s in CATALOG.profile(profile)}
    expected |= {i for i in CATALOG.infrastructure if profile in CATALOG.infra_profiles(i)}
    assert set(stack["services"]) == expected
    assert stack["version"] == "3.8"
    for name, service in stack["services"].items():
        for key in ("build", "depends_on", "profiles", "restart", "security_opt", "pids_limit"):
            assert key not in service, (name, key)
    assert all(n["driver"] == "overlay" for n in stack["networks"].values())


def test_service_secrets_are_swarm_secrets_never_variables(profile):
    stack = swarmfile.stack_file(CATALOG, profile)
    secret_keys = set(envfile.secret_keys())
    for service in CATALOG.profile(profile):
        entry = stack["services"][service.name]
        for key, value in entry["environment"].items():
            references = set(re.findall(r"\$\{(\w+)", str(value)))
            assert not references & secret_keys, (service.name, key)
        hidden = swarmfile.service_secrets(CATALOG, service.name)
        assert "INTERNAL_TOKEN" in hidden  # every service's own credential
        assert entry["secrets"] == [
            {"source": swarmfile.secret_key(service.name, k), "target": k.lower()} for k in hidden
        ]
        for k in hidden:
            declared = stack["secrets"][swarmfile.secret_key(service.name, k)]
            assert declared == {
                "external": True,
                "name": f"${{{swarmfile.variable('secret', service.name, k)}}}",
            }


def test_stateful_services_are_pinned_and_replaced_stop_first():
    stack = swarmfile.stack_file(CATALOG, "full")
    for name, entry in stack["services"].items():
        deploy = entry["deploy"]
        stateful = name in CATALOG.infrastructure or CATALOG.service(name).extra.get("state")
        assert deploy["update_config"]["order"] == ("stop-first" if stateful else "start-first")
        assert deploy["update_config"]["failure_action"] == "rollback"
        assert ("placement" in deploy) == bool(stateful), name
        if stateful:
            assert deploy["replicas"] == 1


def test_a_rollout_is_watched_past_the_time_a_task_needs_to_fail_its_health_check():
    stack = swarmfile.stack_file(CATALOG, "full")
    for name, entry in stack["services"].items():
        health = entry["healthcheck"]
        seconds = lambda d: int(str(d).rstrip("s"))  # noqa: E731
        latest_unhealthy = seconds(health["start_period"]) + seconds(health["interval"]) * int(
            health["retries"]
        )
        monitor = seconds(entry["deploy"]["update_config"]["monitor"])
        assert monitor > latest_unhealthy, name


def test_replicas_come_from_the_catalog_and_published_ones_can_be_capped():
    stack = swarmfile.stack_file(CATALOG, "core")
    assert stack["services"]["user-service"]["deploy"]["replicas"] == 2
    gateway = stack["services"]["api-gateway"]
    assert gateway["deploy"]["replicas"] == "${TIERED_REPLICAS_API_GATEWAY:-2}"
    (port,) = gateway["ports"]
    assert port["mode"] == "${SWARM_PUBLISH_MODE:-host}" and port["published"] == 8000
    assert gateway["deploy"]["endpoint_mode"] == "${SWARM_ENDPOINT_MODE:-dnsrr}"
    assert all("ports" not in e for n, e in stack["services"].items() if n != "api-gateway")


def test_images_roll_by_tag_and_default_to_the_local_build():
    stack = swarmfile.stack_file(CATALOG, "core")
    image = stack["services"]["user-service"]["image"]
    assert image == "${TIERED_IMAGE_USER_SERVICE:-tiered/user-service:latest}"


def test_stack_files_are_generated_and_drift_checked():
    files = render.expected_files(CATALOG)
    for profile in CATALOG.profiles:
        assert swarmfile.path(profile) in files
        assert swarmfile.path(profile).read_text() == files[swarmfile.path(profile)]


def test_the_stack_keeps_composes_containment():
    composed = composefile.compose(CATALOG)["services"]
    stack = swarmfile.stack_file(CATALOG, "full")["services"]
    for service in CATALOG.services.values():
        entry = stack[service.name]
        assert entry["read_only"] is True and entry["cap_drop"] == ["ALL"]
        assert {"type": "tmpfs", "target": "/tmp"} in entry["volumes"]  # noqa: S108
        assert entry["networks"] == composed[service.name]["networks"]
        limits = entry["deploy"]["resources"]["limits"]
        assert limits["memory"] == composed[service.name]["mem_limit"]
