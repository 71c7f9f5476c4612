"""The engine's API through the docker SDK, where it earns its place: fast state polling
(containers, health, restarts), image lookups and the low-level build and run calls the
base-image and wheelhouse builders make. Everything else goes through compose."""

from __future__ import annotations

import functools

import docker
import docker.errors

from toolkit.errors import ToolkitError
from toolkit.names import PROJECT

PROVISION_HINT = (
    "on Debian/Ubuntu run `sudo bash scripts/provision-debian.sh`; elsewhere start Docker Desktop"
)
NotFound = docker.errors.NotFound
APIError = docker.errors.APIError
ImageNotFound = docker.errors.ImageNotFound
SDKError = docker.errors.DockerException


@functools.cache
def client() -> docker.DockerClient:
    """A client for the engine, or a ToolkitError that says how to get one."""
    try:
        engine = docker.from_env(timeout=120)
        engine.ping()
    except docker.errors.DockerException as exc:
        raise ToolkitError(f"the Docker engine is not reachable ({exc})", PROVISION_HINT) from None
    return engine


def project_containers(inspect: bool = False) -> dict[str, object]:
    """This project's containers by compose service name (running or not).

    Sparse by default (no inspect per container, so one removed meanwhile, such as a finished
    `compose run --rm`, cannot fail the listing); `inspect=True` reloads each and leaves out
    those that went away."""
    found = client().containers.list(
        all=True, sparse=True, filters={"label": f"com.docker.compose.project={PROJECT}"}
    )
    result = {}
    for container in found:
        if inspect:
            try:
                container.reload()
            except docker.errors.NotFound:
                continue
        labels = container.attrs.get("Labels") or container.attrs.get("Config", {}).get("Labels")
        result[(labels or {}).get("com.docker.compose.service")] = container
    return result


def image_id(tag: str) -> str | None:
    """The id of a local image, or None when there is none of that tag."""
    try:
        return client().images.get(tag).id
    except docker.errors.ImageNotFound:
        return None


def service_url(service, container=None) -> str:
    """Where the host reaches a service: its published port on 127.0.0.1 (the gateway's), or
    its container's address on one of the stack's networks (Linux: the host routes to every
    bridge network). Only the gateway answers there without an internal credential; the
    toolkit presents the operator's (`envfile.operator_credential`)."""
    if service.publish:
        return f"http://127.0.0.1:{service.port}"
    container = container or project_containers().get(service.name)
    if container is None:
        raise ToolkitError(f"{service.name} has no container", "`inv up` the profile that runs it")
    container.reload()
    for network in container.attrs["NetworkSettings"]["Networks"].values():
        if network.get("IPAddress"):
            return f"http://{network['IPAddress']}:{service.port}"
    raise ToolkitError(f"{service.name}'s container has no address", "`inv ps`")
