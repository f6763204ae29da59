from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from helm_python import Chart

from helm_kit import CHART_DIR, MINIMAL_PRODUCTION, REALM_JSON, WITH_MLLP, Release, dev_values, merged, render

@pytest.fixture(scope="session")
def chart() -> Iterator[Chart]:
    with Chart.load(CHART_DIR) as loaded:
        yield loaded


REALM_COPY = CHART_DIR / "files" / "realm-hds.json"


@pytest.fixture(scope="session")
def ci_values() -> dict[str, Any]:
    values: dict[str, Any] = yaml.safe_load((CHART_DIR / "ci" / "production-values.yaml").read_text())
    if REALM_COPY.exists():
        return values
    # Without the repository realm copied into the chart, carry a small one in values.
    return merged(values, {"keycloak": {"deploy": {"realmJson": REALM_JSON}}})


@pytest.fixture(scope="session")
def expected_realm() -> dict[str, Any]:
    """The realm the ci release imports."""
    loaded: dict[str, Any] = json.loads(REALM_COPY.read_text() if REALM_COPY.exists() else REALM_JSON)
    return loaded


@pytest.fixture(scope="session")
def minimal(chart: Chart) -> Release:
    return render(chart, MINIMAL_PRODUCTION)


@pytest.fixture(scope="session")
def full(chart: Chart, ci_values: dict[str, Any]) -> Release:
    return render(chart, ci_values)


@pytest.fixture(scope="session")
def dev(chart: Chart) -> Release:
    """helm/hds/values-dev.yaml as it is: what `make kube-smoke` plays."""
    return render(chart, dev_values())


@pytest.fixture(scope="session")
def with_mllp(chart: Chart) -> Release:
    return render(chart, WITH_MLLP)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "podman: plays the chart as pods with podman (make test includes it where podman is installed)")
