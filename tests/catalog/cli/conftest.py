"""Fixtures for the `hds` subcommand tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gateway.broker import EmbeddedBroker
from tests.policies.identity.conftest import kc  # noqa: F401 - the Keycloak-compatible test server


@pytest.fixture(scope="module")
def broker() -> Iterator[str]:
    """A broker of their own: these tests publish to feeds no registry knows, and a gateway test on the shared
    session broker (reading `hds.raw.*` from the earliest offset) must not see those records."""
    with EmbeddedBroker() as b:
        yield b.bootstrap
