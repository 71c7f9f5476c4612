"""catalog.yaml and toolkit/catalog.py: loading, profiles, validation, dependencies."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from toolkit import catalog, composefile
from toolkit.errors import ToolkitError

CORE = ["api-gateway", "user-service", "database-service"]
DATA = ["data-bridge", "trading-engine"]
AI = ["ai-provider", "ai-orchestration"]
MODELS = ["ml-processing", "deep-learning"]
INFRA = ["postgres", "redis", "clickhouse"]


def names(services) -> list[str]:
    return [s.name for s in services]


# ---- the committed catalog ---------------------------------------------------------------


def test_real_catalog_loads():
    cat = catalog.load()
    assert cat.python == "3.11"
    assert list(cat.profiles) == ["core", "data", "ai", "full"]
    assert cat.profiles == {"core": 1, "data": 2, "ai": 4, "full": 5}
    assert sorted(cat.tiers) == [1, 2, 3, 4, 5]
    assert list(cat.infrastructure) == INFRA
    assert cat.infrastructure["postgres"].port == 5432
    assert list(cat.services) == [*CORE, *DATA, *AI, *MODELS]


def test_real_catalog_service_fields():
    cat = catalog.load()
    gateway = cat.service("api-gateway")
    assert (gateway.tier, gateway.port, gateway.health) == (1, 8000, "/health")
    assert gateway.depends_on == ("user-service",)
    assert gateway.infrastructure == ("redis",)
    assert (gateway.workers, gateway.threads) == (2, 1)
    assert gateway.extra["gateway"] is True
    assert gateway.extra["secrets"] == ["jwt"]
    assert gateway.budgets["image_mb"] == catalog.Budget(200, 110)
    assert "latency_p50_ms" not in gateway.budgets  # no figure checks it yet
    assert gateway.directory == catalog.ROOT / "services" / "api-gateway"
    database = cat.service("database-service")
    assert database.publish is False
    assert database.public is False
    assert database.tuning["pool_max"] == 35
    assert cat.service("user-service").publish is False
    assert gateway.publish is True  # the one door on the host


def test_optional_services_may_be_heavier():
    # ai-orchestration (tier 4) uses deep-learning (tier 5) when the full profile runs it.
    cat = catalog.load()
    orchestration = cat.service("ai-orchestration")
    assert orchestration.uses == ("ml-processing", "deep-learning")
    assert "deep-learning" not in orchestration.depends_on
    assert orchestration.tuning["max_workflows"] == 5
    dependencies, _ = cat.needs(orchestration)
    assert "deep-learning" not in [s.name for s in dependencies]


def test_every_service_has_a_directory():
    for service in catalog.load().services.values():
        assert (service.directory / "pyproject.toml").is_file(), service.name


def test_real_profiles_are_cumulative():
    cat = catalog.load()
    assert names(cat.profile("core")) == names(cat.tier(1)) == CORE
    assert names(cat.profile("ai")) == names(s for s in cat.services.values() if s.tier <= 4)
    assert names(cat.profile("full")) == list(cat.services)


def test_profiles_are_cumulative_across_tiers(multi_tier):
    cat = multi_tier
    assert names(cat.profile("core")) == CORE
    assert names(cat.profile("data")) == [*CORE, "ingest-service"]
    assert names(cat.profile("ai")) == [
        *CORE,
        "ingest-service",
        "embedding-service",
        "agent-service",
    ]
    assert names(cat.profile("full")) == list(cat.services)
    assert "training-service" in names(cat.profile("full"))
    assert names(cat.tier(3)) == ["embedding-service"]
    assert names(cat.tier(2)) == ["ingest-service"]


def test_profiles_of_a_service(multi_tier):
    cat = multi_tier
    assert cat.profiles_of(cat.service("user-service")) == ["core", "data", "ai", "full"]
    assert cat.profiles_of(cat.service("ingest-service")) == ["data", "ai", "full"]
    assert cat.profiles_of(cat.service("embedding-service")) == ["ai", "full"]
    assert cat.profiles_of(cat.service("agent-service")) == ["ai", "full"]
    assert cat.profiles_of(cat.service("training-service")) == ["full"]


def test_select_keeps_catalog_order_and_rejects_unknown():
    cat = catalog.load()
    assert names(cat.select(["database-service", "api-gateway"])) == [
        "api-gateway",
        "database-service",
    ]
    with pytest.raises(ToolkitError, match="unknown service 'ghost'"):
        cat.select(["api-gateway", "ghost"])


# ---- unknown names list the valid ones ----------------------------------------------------


def test_unknown_profile_lists_profiles():
    with pytest.raises(ToolkitError) as info:
        catalog.load().profile("nope")
    assert "unknown profile 'nope'" in str(info.value)
    assert "core, data, ai, full" in str(info.value)
    assert info.value.fix == "choose one of: core, data, ai, full"


def test_unknown_service_lists_services():
    with pytest.raises(ToolkitError) as info:
        catalog.load().service("nope")
    assert "unknown service 'nope'" in info.value.problem
    assert "api-gateway, user-service, database-service" in str(info.value)


def test_unknown_tier_lists_tiers():
    with pytest.raises(ToolkitError) as info:
        catalog.load().tier(9)
    text = str(info.value)
    assert "unknown tier 9" in text
    for label in ("1 (core)", "2 (data)", "3 (ai-basic)", "4 (ai-advanced)", "5 (ml-heavy)"):
        assert label in text


def test_toolkit_error_text():
    assert str(ToolkitError("broken", "fix it")) == "broken: fix it"
    assert str(ToolkitError("broken")) == "broken"


# ---- access rules ---------------------------------------------------------------------------


def test_real_catalog_access_rules():
    cat = catalog.load()
    bridge = cat.service("data-bridge").access
    assert catalog.AccessRule(("POST",), "/ticks", "admin") in bridge
    assert all(rule.role == "admin" for rule in bridge)  # everything else: any user
    promote = catalog.AccessRule(("POST",), "/models/*/promote", "admin")
    assert promote in cat.service("ml-processing").access
    for name in ("trading-engine", "ai-provider", "ai-orchestration"):
        assert cat.service(name).access == (), name
    assert cat.service("database-service").access == ()


def test_access_rules_are_normalized(catalog_data):
    catalog_data["services"]["data-bridge"]["access"] = [
        {"methods": ["post", "Delete"], "path": "/replays/", "role": "admin"},
        {"path": "/ws", "role": "user"},  # no methods: every method
    ]
    rules = catalog.parse(catalog_data).service("data-bridge").access
    assert rules == (
        catalog.AccessRule(("POST", "DELETE"), "/replays", "admin"),
        catalog.AccessRule((), "/ws", "user"),
    )
    assert rules[0].as_json() == {
        "methods": ["POST", "DELETE"],
        "path": "/replays",
        "role": "admin",
    }


# ---- parse() names the place of each problem ---------------------------------------------


def _drop_top_level_services(d):
    del d["services"]


def _drop_port(d):
    del d["services"]["user-service"]["port"]


def _duplicate_port(d):
    d["services"]["user-service"]["port"] = 8000


def _unknown_dependency(d):
    d["services"]["api-gateway"]["depends_on"] = ["user-service", "ghost-service"]


def _heavier_dependency(d):
    d["services"]["user-service"]["tier"] = 3


def _unknown_infrastructure(d):
    d["services"]["database-service"]["infrastructure"] = ["postgres", "mongodb"]


def _bad_name(d):
    d["services"]["Bad_Name"] = {"tier": 1, "port": 8500, "health": "/health"}


def _unknown_tier(d):
    d["services"]["user-service"]["tier"] = 9


def _profile_tier(d):
    d["profiles"]["huge"] = 7


def _infrastructure_without_port(d):
    del d["infrastructure"]["redis"]["port"]


def _bad_budget(d):
    d["services"]["user-service"]["budgets"]["image_mb"] = {"seed": 1, "goal": 2}


def _unknown_used_service(d):
    d["services"]["user-service"]["uses"] = ["ghost-service"]


def _uses_itself(d):
    d["services"]["user-service"]["uses"] = ["user-service"]


def _needed_and_optional(d):
    d["services"]["user-service"]["uses"] = ["database-service"]


def _not_a_mapping(d):
    d["services"]["user-service"] = ["tier", 1]


def _access_not_a_list(d):
    d["services"]["data-bridge"]["access"] = {"path": "/ticks", "role": "admin"}


def _access_rule_not_a_mapping(d):
    d["services"]["data-bridge"]["access"][1] = "POST /replays admin"


def _access_typo_method(d):
    d["services"]["data-bridge"]["access"][0]["methods"] = ["POTS"]


def _access_typo_role(d):
    d["services"]["data-bridge"]["access"][0]["role"] = "admn"


def _access_relative_path(d):
    d["services"]["data-bridge"]["access"][0]["path"] = "ticks"


def _access_unknown_key(d):
    d["services"]["data-bridge"]["access"][0]["roles"] = ["admin"]


def _access_on_an_internal_service(d):
    d["services"]["database-service"]["access"] = []


def _public_without_access(d):
    del d["services"]["trading-engine"]["access"]


@pytest.mark.parametrize(
    ("mutate", "where", "what"),
    [
        (_drop_top_level_services, "top level", "missing key 'services'"),
        (_drop_port, "services.user-service", "missing key 'port'"),
        (_duplicate_port, "services.user-service.port", "port 8000 is already used by api-gateway"),
        (_unknown_dependency, "services.api-gateway.depends_on[1]", "unknown service 'ghost-"),
        (_heavier_dependency, "services.api-gateway.depends_on[0]", "heavier tier"),
        (
            _unknown_infrastructure,
            "services.database-service.infrastructure[1]",
            "unknown infrastructure 'mongodb'",
        ),
        (_bad_name, "services.Bad_Name", "lower-case letters, digits and dashes"),
        (_unknown_tier, "services.user-service.tier", "tier 9 is not one of [1, 2, 3, 4, 5]"),
        (_profile_tier, "profiles.huge", "tier 7 is not in tiers"),
        (_infrastructure_without_port, "infrastructure.redis", "missing key 'port'"),
        (_bad_budget, "services.user-service.budgets.image_mb", "unknown key 'goal'"),
        (_not_a_mapping, "services.user-service", "expected a mapping, got a list"),
        (_unknown_used_service, "services.user-service.uses[0]", "uses unknown service 'ghost-"),
        (_uses_itself, "services.user-service.uses[0]", "cannot use itself"),
        (_needed_and_optional, "services.user-service.uses[0]", "in both depends_on and uses"),
        (_access_not_a_list, "services.data-bridge.access", "expected a list, got a mapping"),
        (_access_rule_not_a_mapping, "services.data-bridge.access[1]", "expected a mapping"),
        (_access_typo_method, "services.data-bridge.access[0].methods[0]", "method 'POTS'"),
        (_access_typo_role, "services.data-bridge.access[0].role", "unknown role 'admn'"),
        (_access_relative_path, "services.data-bridge.access[0].path", "must start with '/'"),
        (_access_unknown_key, "services.data-bridge.access[0]", "unknown key 'roles'"),
        (_access_on_an_internal_service, "services.database-service.access", "only public"),
        (_public_without_access, "services.trading-engine", "needs an `access` list"),
    ],
    ids=lambda v: v.__name__.strip("_") if callable(v) else None,
)
def test_parse_rejects_and_names_the_place(catalog_data, mutate, where, what):
    catalog.parse(catalog_data)  # valid before the change
    mutate(catalog_data)
    with pytest.raises(ToolkitError) as info:
        catalog.parse(catalog_data)
    assert info.value.problem.startswith(f"catalog.yaml: {where}: "), info.value.problem
    assert what in info.value.problem
    assert "catalog.yaml" in info.value.fix


def test_parse_heavier_tier_names_the_dependency(catalog_data):
    _heavier_dependency(catalog_data)
    with pytest.raises(ToolkitError, match=r"depends on user-service \(tier 3\)"):
        catalog.parse(catalog_data)


def test_parse_accepts_dependency_on_same_or_lighter_tier(multi_tier):
    # agent-service (tier 4) depends on embedding-service (3) and user-service (1)
    assert multi_tier.service("agent-service").depends_on == ("embedding-service", "user-service")


@pytest.mark.parametrize("data", [None, [], "services: {}"])
def test_parse_rejects_non_mapping(data):
    with pytest.raises(ToolkitError, match="top level: expected a mapping"):
        catalog.parse(data)


def test_extra_holds_the_declared_keys_as_written(catalog_data):
    cat = catalog.parse(catalog_data)
    assert cat.service("user-service").extra == {
        "secrets": ["jwt", "admin"],
        "env": {"BCRYPT_ROUNDS": 12},
        "test_env": {"BCRYPT_ROUNDS": 4},
        "limits": {"memory_mb": 512, "pids": 512},
        "replicas": 2,
    }
    assert "tier" not in cat.service("user-service").extra


def test_a_service_with_state_runs_one_replica(catalog_data):
    catalog_data["services"]["data-bridge"]["replicas"] = 2
    with pytest.raises(ToolkitError, match=r"data-bridge\.replicas: a service with `state: true`"):
        catalog.parse(catalog_data)


def test_load_reports_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ToolkitError, match="not found"):
        catalog.load(tmp_path / "absent.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("services: [unclosed\n")
    with pytest.raises(ToolkitError, match=r"broken\.yaml:2:1: not valid YAML: expected ','"):
        catalog.load(broken)


# Bug: parse() accepts a dependency cycle between services of the same tier. Compose refuses
# such a file ("dependency cycle detected") and needs() then lists a service as its own
# dependency; the catalog should reject it, naming the place.
def test_parse_rejects_a_dependency_cycle(catalog_data):
    catalog_data["services"]["user-service"]["depends_on"] = ["database-service", "api-gateway"]
    with pytest.raises(ToolkitError) as info:
        catalog.parse(catalog_data)
    assert "services." in info.value.problem
    assert "cycle" in info.value.problem


# Bug: a non-numeric port escapes as a bare ValueError (a traceback through the tasks'
# `friendly` wrapper, which only catches ToolkitError) instead of a message naming the place.
def test_parse_rejects_a_non_numeric_port_naming_the_place(catalog_data):
    catalog_data["services"]["user-service"]["port"] = "eighty"
    with pytest.raises(ToolkitError) as info:
        catalog.parse(catalog_data)
    assert "services.user-service" in info.value.problem


# ---- needs() and infra_profiles() ---------------------------------------------------------


def test_needs_is_transitive_with_infrastructure():
    cat = catalog.load()
    services, infra = cat.needs(cat.service("api-gateway"))
    assert names(services) == ["user-service", "database-service"]
    assert infra == ["postgres", "redis", "clickhouse"]


def test_needs_of_leaf_and_middle_services():
    cat = catalog.load()
    assert cat.needs(cat.service("database-service")) == ([], INFRA)
    services, infra = cat.needs(cat.service("user-service"))
    assert names(services) == ["database-service"]
    assert infra == INFRA


def test_needs_collects_infrastructure_only_from_the_dependency_chain(catalog_data):
    catalog_data["services"] = {
        "front": {"tier": 1, "port": 9001, "health": "/h", "depends_on": ["middle"]},
        "middle": {
            "tier": 1,
            "port": 9002,
            "health": "/h",
            "depends_on": ["back"],
            "infrastructure": ["redis"],
        },
        "back": {"tier": 1, "port": 9003, "health": "/h", "infrastructure": ["postgres"]},
        "unrelated": {"tier": 1, "port": 9004, "health": "/h", "infrastructure": ["clickhouse"]},
    }
    cat = catalog.parse(catalog_data)
    services, infra = cat.needs(cat.service("front"))
    assert names(services) == ["middle", "back"]
    assert infra == ["postgres", "redis"]  # catalog order, no clickhouse
    assert cat.needs(cat.service("unrelated")) == ([], ["clickhouse"])


def test_needs_across_tiers(multi_tier):
    services, infra = multi_tier.needs(multi_tier.service("agent-service"))
    assert names(services) == [
        "user-service",
        "database-service",
        "ingest-service",
        "embedding-service",
    ]
    assert infra == INFRA


def test_infra_profiles_real_catalog():
    cat = catalog.load()
    for infra in INFRA:
        assert cat.infra_profiles(infra) == ["core", "data", "ai", "full"]


def test_infra_profiles_follow_the_lightest_service_needing_them(catalog_data):
    catalog_data["services"] = {
        "light": {"tier": 1, "port": 9001, "health": "/h", "infrastructure": ["redis"]},
        "middle": {"tier": 3, "port": 9002, "health": "/h", "infrastructure": ["clickhouse"]},
        "heavy": {
            "tier": 5,
            "port": 9003,
            "health": "/h",
            "infrastructure": ["clickhouse", "redis"],
        },
    }
    cat = catalog.parse(catalog_data)
    assert cat.infra_profiles("redis") == ["core", "data", "ai", "full"]
    assert cat.infra_profiles("clickhouse") == ["ai", "full"]
    assert cat.infra_profiles("postgres") == []


# ---- load(): typed models, positions, several problems at once ------------------------------


def _edited(*edits: tuple[str, str]) -> str:
    """The committed catalog.yaml's text with each `old` replaced (once) by `new`."""
    text = catalog.CATALOG_FILE.read_text()
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


def _line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


def _problems(tmp_path, text: str) -> list[str]:
    path = tmp_path / "catalog.yaml"
    path.write_text(text)
    with pytest.raises(ToolkitError) as info:
        catalog.load(path)
    assert info.value.fix == f"fix {path} and retry"
    return [line.removeprefix(f"{path}:") for line in info.value.problem.splitlines()]


USER_DEPENDS = "    depends_on: [database-service]\n    # jwt: signs"


def test_a_typo_is_an_error_with_its_line_and_a_suggestion(tmp_path):
    text = _edited((USER_DEPENDS, USER_DEPENDS.replace("depends_on", "depnds_on")))
    line = _line_of(text, "depnds_on")
    assert _problems(tmp_path, text) == [
        f"{line}:5: services.user-service: unknown key 'depnds_on' (did you mean 'depends_on'?)"
    ]


def test_an_unknown_key_without_a_close_match_lists_the_keys(tmp_path):
    text = _edited(
        ("    state: true            # the spool", "    colour: blue\n    state: true  # the spool")
    )
    (problem,) = _problems(tmp_path, text)
    assert problem.startswith(f"{_line_of(text, 'colour')}:5: services.data-bridge: ")
    assert "unknown key 'colour' (the keys here: tier, port, health," in problem


def test_an_unknown_secret_lists_the_secrets(tmp_path):
    text = _edited(("secrets: [jwt, admin]", "secrets: [jwt, jwtt]"))
    line = _line_of(text, "jwtt")
    assert _problems(tmp_path, text) == [
        f"{line}:20: services.user-service.secrets[1]: unknown secret 'jwtt' "
        "(did you mean 'jwt'?); the secrets are: jwt, admin"
    ]
    text = _edited(("secrets: [jwt, admin]", "secrets: [vault]"))
    (problem,) = _problems(tmp_path, text)
    assert "unknown secret 'vault' (the secrets are: jwt, admin)" in problem


def test_secrets_are_the_ones_render_knows():

    assert set(catalog.SECRETS) == set(composefile.SECRET_ENV)


def test_tiers_as_a_list_is_an_error_not_a_traceback(tmp_path):
    text = _edited(
        ("tiers:\n  1: core\n  2: data\n", "tiers: [core, data]\n"), ("  3: ai", "  # 3")
    )
    text = text.replace("  4: ai-advanced\n  5: ml-heavy\n", "")
    line = _line_of(text, "tiers: [core")
    assert _problems(tmp_path, text) == [f"{line}:8: tiers: expected a mapping, got a list"]


@pytest.mark.parametrize(
    ("old", "new", "where", "what"),
    [
        ("port: 8002", "port: eighty", "services.trading-engine.port", "expected an integer, got"),
        (
            "port: 8002",
            "port: 80000",
            "services.trading-engine.port",
            "less than or equal to 65535",
        ),
        ('python: "3.11"', "python: 3.11", "python", 'the number 3.11 (quote it: "3.11")'),
        ("public: true           # /api/trading", "public: yes", "public", "true or false"),
        ("tuning: {workers: 1, threads: 4}", "tuning: {workers: two}", "workers", "an integer"),
        (
            "env: {BCRYPT_ROUNDS: 12}",
            "env: {BCRYPT_ROUNDS: [12]}",
            "env.BCRYPT_ROUNDS",
            "a string,",
        ),
        ("env: {BCRYPT_ROUNDS: 12}", "env: {bcrypt-rounds: 12}", "env.bcrypt-rounds", "variable"),
        ("depends_on: [database-service]", "depends_on: database-service", "depends_on", "a list"),
        ("tuning: {workers: 2, threads: 1}", "tuning:", "tuning", "a mapping, got nothing (null)"),
        ("health: /health", "health: health", "api-gateway.health", "must start with '/'"),
    ],
)
def test_wrong_types_name_the_value(tmp_path, old, new, where, what):
    text = _edited((old, new))
    (problem,) = _problems(tmp_path, text)
    line = _line_of(text, new.split(":")[0] if new.endswith(":") else new)
    assert problem.startswith(f"{line}:"), problem
    assert where in problem.split(": ")[1]
    assert what in problem


@pytest.mark.parametrize(
    ("old", "new", "what"),
    [
        ("image_mb: {seed: 200, target: 110}", "imag_mb: {seed: 200, target: 110}", "'image_mb'"),
        ("image_mb: {seed: 200, target: 110}", "image_mb: {seed: 200, taget: 110}", "'target'"),
        ("limits: {memory_mb: 512, pids: 512}", "limits: {memory: 512, pids: 512}", "'memory_mb'"),
        ("{methods: [POST], path: /ticks, role: admin}", "{method: [POST], path: /ticks}", "'me"),
        ("tuning: {workers: 2, threads: 1}", "tuning: {worker: 2, threads: 1}", "'workers'"),
        ("trading-engine: [{methods: [GET]", "trading-engine: [{mehtods: [GET]", "'methods'"),
        ("core: {start_seconds: {seed: 30", "core: {start_second: {seed: 30", "'start_seconds'"),
    ],
)
def test_a_nested_typo_is_named_with_a_suggestion(tmp_path, old, new, what):
    text = _edited((old, new))
    problems = _problems(tmp_path, text)
    line = _line_of(text, new)
    assert any(p.startswith(f"{line}:") and f"did you mean {what}" in p for p in problems), problems


def test_several_problems_at_once_in_file_order(tmp_path):
    text = _edited(
        ("port: 8002", "port: 8000"),  # trading-engine takes the gateway's port
        ("depends_on: [user-service]", "depends_on: [user-servce]"),
        ("infrastructure: [redis]  # the signal cache", "infrastructure: [redis, mongo]"),
    )
    problems = _problems(tmp_path, text)
    lines = [int(p.split(":")[0]) for p in problems]
    assert lines == sorted(lines) and len(problems) == 3, problems
    assert "unknown service 'user-servce' (did you mean 'user-service'?)" in problems[0]
    assert "port 8000 is already used by api-gateway" in problems[1]
    assert "unknown infrastructure 'mongo'" in problems[2]
    with pytest.raises(ToolkitError) as info:
        catalog.load(tmp_path / "catalog.yaml")
    assert catalog.one_line(info.value).endswith(
        f"(and 2 more); fix {tmp_path / 'catalog.yaml'} and retry"
    )
    assert "\n" not in catalog.one_line(info.value)


def test_shape_errors_are_listed_together(tmp_path):
    text = _edited(
        ("port: 8002", "port: eighty"),
        (USER_DEPENDS, USER_DEPENDS.replace("depends_on", "depnds_on")),
        ("secrets: [jwt]", "secrets: [jwt, root]"),
    )
    problems = _problems(tmp_path, text)
    assert [p.split(": ", 2)[1] for p in problems] == [
        "services.api-gateway.secrets[1]",
        "services.user-service",
        "services.trading-engine.port",
    ]
    assert "unknown secret 'root'" in problems[0]
    assert "unknown key 'depnds_on'" in problems[1]
    assert "expected an integer, got the string 'eighty'" in problems[2]


def test_a_duplicate_key_is_an_error(tmp_path):
    text = _edited(("    port: 8002\n", "    port: 8002\n    port: 8009\n"))
    (problem,) = _problems(tmp_path, text)
    first = _line_of(text, "port: 8002")
    assert problem == (
        f"{first + 1}:5: services.trading-engine: duplicate key 'port' "
        f"(first on line {first}; YAML keeps the last)"
    )


def test_an_unloaded_catalog_raises_its_error_when_used():
    error = ToolkitError("catalog.yaml:3:1: top level: broken", "fix catalog.yaml and retry")
    stand_in = catalog.Unloaded(error)
    with pytest.raises(ToolkitError, match="broken"):
        stand_in.service("api-gateway")
    assert (
        catalog.one_line(error) == "catalog.yaml:3:1: top level: broken; fix catalog.yaml and retry"
    )


# ---- the JSON Schema for editors --------------------------------------------------------------


def test_the_committed_schema_is_the_generated_one():
    committed = json.loads(catalog.SCHEMA_FILE.read_text())
    assert committed == catalog.json_schema(), (
        "catalog.schema.json is stale: run "
        "`.venv/bin/python -m toolkit.catalog --schema > catalog.schema.json`"
    )


def test_catalog_yaml_names_its_schema():
    first = catalog.CATALOG_FILE.read_text().splitlines()[0]
    assert first == "# yaml-language-server: $schema=./catalog.schema.json"


def test_the_schema_forbids_unknown_keys_everywhere():
    schema = catalog.json_schema()
    assert schema["additionalProperties"] is False
    for name, definition in schema["$defs"].items():
        assert definition.get("additionalProperties") is False, name
    service = schema["$defs"]["Service"]["properties"]
    assert service["secrets"]["items"]["enum"] == list(catalog.SECRETS)
    assert "depends_on" in service and "gateway" in service and "limits" in service


# ---- nox --list survives a broken catalog -------------------------------------------------------


def test_nox_list_survives_a_broken_catalog(tmp_path):
    text = _edited((USER_DEPENDS, USER_DEPENDS.replace("depends_on", "depnds_on")))
    broken = tmp_path / "catalog.yaml"
    broken.write_text(text)
    result = subprocess.run(
        [sys.executable, "-m", "nox", "--list"],
        cwd=catalog.ROOT,
        env={**os.environ, "TIERED_CATALOG": str(broken)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    said = result.stderr.strip().splitlines()
    assert said == [
        f"nox > {broken}:{_line_of(text, 'depnds_on')}:5: services.user-service: unknown key "
        f"'depnds_on' (did you mean 'depends_on'?); fix {broken} and retry"
    ]
    for session in ("lint", "toolkit", "tests(catalog-error)"):
        assert f" {session} " in result.stdout, result.stdout
