"""The chart passes Helm v4's own linter and schema validation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import helm_python
import pytest
from helm_python import Chart
from helm_python.errors import HelmValuesError

from helm_kit import MINIMAL_PRODUCTION
from helm_kit import CHART_DIR, merged, render

WARNING = 2


def _problems(report: dict[str, Any]) -> list[str]:
    return [f"{m['path']}: {m['error']}" for m in report["messages"] if m["severity"] >= WARNING] + list(report["errors"])


def test_given_production_ci_values_then_helm_lint_reports_no_warning_or_error(ci_values: dict[str, Any]) -> None:
    report = helm_python.lint(CHART_DIR, ci_values, strict=True, namespace="hds", kube_version="v1.30.0")
    assert report["total_charts_linted"] == 1
    assert _problems(report) == []


def test_given_minimal_production_values_then_helm_lint_reports_no_warning_or_error() -> None:
    report = helm_python.lint(CHART_DIR, MINIMAL_PRODUCTION, strict=True, namespace="hds")
    assert _problems(report) == []


def test_given_development_values_then_helm_lint_reports_no_warning_or_error() -> None:
    # Lint mode relaxes `fail`; the refusals themselves are asserted on render in test_helm_refusals.py.
    report = helm_python.lint(CHART_DIR, {"env": "development", "kafka": {"bootstrap": "kafka:9092"}}, strict=True)
    assert _problems(report) == []


def test_chart_metadata_names_the_chart_and_app_version(chart: Chart) -> None:
    assert chart.name == "hds"
    assert chart.metadata["apiVersion"] == "v2"
    assert chart.metadata["appVersion"]


@pytest.mark.parametrize(
    ("override", "where"),
    [
        ({"gatway": {"replicas": 2}}, "gatway"),
        ({"env": "prod"}, "/env"),
        ({"gateway": {"replicas": 0}}, "/gateway/replicas"),
        ({"kafka": {"bootstrap": "no-port-here"}}, "/kafka/bootstrap"),
        ({"policies": {"files": {"../etc/passwd": "x: 1"}}}, "does not match pattern"),
        ({"kafka": {"topics": {"feeds": [{"hospital": "St Luke", "feed": "adt"}]}}}, "/kafka/topics/feeds/0/hospital"),
        ({"keycloak": {"realm": "hds realm"}}, "/keycloak/realm"),
    ],
)
def test_given_values_outside_the_schema_then_render_is_refused_naming_the_key(
    chart: Chart, override: dict[str, Any], where: str
) -> None:
    with pytest.raises(HelmValuesError) as refused:
        render(chart, merged(MINIMAL_PRODUCTION, override))
    assert where in str(refused.value)


def test_packaged_chart_carries_the_realm_and_renders_like_the_directory(tmp_path: Path, ci_values: dict[str, Any]) -> None:
    archive = helm_python.package(CHART_DIR, destination=tmp_path)
    with Chart.load(archive) as packaged:
        assert "files/realm-hds.json" in {f["name"] for f in packaged.files}
        with Chart.load(CHART_DIR) as directory:
            assert packaged.render(ci_values, name="city", namespace="hds") == directory.render(ci_values, name="city", namespace="hds")


def test_given_values_dev_yaml_then_helm_lint_reports_no_warning_or_error() -> None:
    from helm_kit import dev_values

    report = helm_python.lint(CHART_DIR, dev_values(), strict=True, namespace="hds", kube_version="v1.30.0")
    assert report["total_charts_linted"] == 1
    assert _problems(report) == []


def test_given_every_optional_part_enabled_then_helm_lint_reports_no_warning_or_error() -> None:
    from helm_kit import WITH_MLLP

    values = merged(WITH_MLLP, {"gateway": {"autoscaling": {"enabled": True}}})
    report = helm_python.lint(CHART_DIR, values, strict=True, namespace="hds", kube_version="v1.30.0")
    assert _problems(report) == []
