"""The security suite runs against the running stack, like e2e, with its fixtures."""

import pytest

from tests.e2e.conftest import admin_token, gateway, jwt_secret  # noqa: F401 - fixtures, by name
from toolkit import stack


@pytest.fixture(scope="session", autouse=True)
def fresh_client_windows() -> None:
    # Every request of this suite comes from one address: earlier runs' must not count.
    stack.forget_client_windows()
