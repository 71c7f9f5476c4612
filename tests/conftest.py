"""Shared data for the toolkit's unit tests (no Docker engine, no network)."""

from __future__ import annotations

import copy

import pytest
import yaml

from toolkit import catalog


def _budgets() -> dict:
    return {"image_mb": {"seed": 200, "target": 150}}


# Services added to the real catalog to exercise tiers 2-5, which it does not populate yet.
EXTRA_SERVICES = {
    "ingest-service": {
        "tier": 2,
        "port": 8101,
        "health": "/health",
        "public": True,
        "access": [{"methods": ["POST"], "path": "/ingest", "role": "admin"}],
        "depends_on": ["database-service"],
        "infrastructure": ["clickhouse"],
        "tuning": {"workers": 3, "threads": 2},
        "budgets": _budgets(),
    },
    "embedding-service": {
        "tier": 3,
        "port": 8102,
        "health": "/health",
        "public": True,
        "access": [],
        "depends_on": ["ingest-service"],
        "infrastructure": ["redis"],
        "tuning": {"workers": 4, "threads": 8},
        "budgets": _budgets(),
    },
    "agent-service": {
        "tier": 4,
        "port": 8103,
        "health": "/healthz",
        "depends_on": ["embedding-service", "user-service"],
        "budgets": _budgets(),
    },
    "training-service": {
        "tier": 5,
        "port": 8104,
        "health": "/health",
        "publish": False,
        "infrastructure": ["postgres"],
        "secrets": ["jwt"],
        "budgets": _budgets(),
    },
}


@pytest.fixture
def catalog_data() -> dict:
    """A fresh, mutable copy of the committed catalog.yaml, as YAML gives it."""
    return yaml.safe_load(catalog.CATALOG_FILE.read_text())


@pytest.fixture
def multi_tier(catalog_data) -> catalog.Catalog:
    """The committed catalog's tier 1 plus one made-up service in each of tiers 2 to 5."""
    services = catalog_data["services"]
    catalog_data["services"] = {n: s for n, s in services.items() if s["tier"] == 1}
    # database-service's route rules name the real catalog's callers; keep those still here.
    database = catalog_data["services"]["database-service"]
    database["callers"] = {
        n: r for n, r in database.get("callers", {}).items() if n in catalog_data["services"]
    }
    catalog_data["services"].update(copy.deepcopy(EXTRA_SERVICES))
    return catalog.parse(catalog_data)
