"""Names in one place: the compose project, its files, each build stage with the tag its
image carries, an image's full name and a test container's.

Nothing here talks to anything; every module that names an image, a stage or a compose file
takes the name from here instead of formatting it again.
"""

from __future__ import annotations

import enum

from toolkit.catalog import ROOT

PROJECT = "tiered"
COMPOSE_DIR = ROOT / "compose"
COMPOSE_FILE = COMPOSE_DIR / "compose.yaml"
COMPOSE_TEST_FILE = COMPOSE_DIR / "compose.test.yaml"
COMPOSE_DEV_FILE = COMPOSE_DIR / "compose.dev.yaml"
# Each service's build logs, one file per service and stage.
BUILD_LOG_DIR = ROOT / ".cache" / "build-logs"


class Stage(enum.Enum):
    """A stage of services/Dockerfile.template that the toolkit builds, by its target name;
    `tag` is what its images are tagged."""

    PRODUCTION = "production"
    TEST = "test"
    APPLICATION = "application"  # dev mode: the source is mounted over it

    @property
    def tag(self) -> str:
        return {"production": "latest", "test": "test", "application": "dev"}[self.value]

    @classmethod
    def of(cls, target: str) -> Stage:
        """The stage of a build target name; ValueError lists the known ones."""
        try:
            return cls(target)
        except ValueError:
            known = ", ".join(s.value for s in cls)
            raise ValueError(f"unknown build target {target!r} (one of {known})") from None


def image(service: str, stage: Stage = Stage.PRODUCTION) -> str:
    """A service's image for a stage: `tiered/<service>:<tag>`."""
    return f"{PROJECT}/{service}:{stage.tag}"


def local_image(name: str, version: str) -> str:
    """A base or infrastructure image made (or tagged) here: `tiered/<name>:<version>`."""
    return f"{PROJECT}/{name}:{version}"


def test_container(service: str) -> str:
    """The compose service that runs a service's suite (compose.test.yaml)."""
    return f"{service}-tests"


def build_log(service: str, stage: Stage) -> str:
    """The file name of a service's build log for a stage, under BUILD_LOG_DIR."""
    return f"{service}-{stage.value}.log"
