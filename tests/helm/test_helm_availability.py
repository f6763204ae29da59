"""Probes, disruption budgets and the gateway's optional autoscaling on consumer lag."""

from __future__ import annotations

from typing import Any

import pytest
from helm_python import Chart
from helm_python.errors import HelmRenderError

from helm_kit import MINIMAL_PRODUCTION, Manifest, Release, container, merged, render

LONG_RUNNING = ("Deployment", "StatefulSet")


def _containers(release: Release) -> list[tuple[Manifest, Manifest]]:
    return [(w, c) for kind in LONG_RUNNING for w in release.all(kind) for c in w["spec"]["template"]["spec"]["containers"]]


def test_every_long_running_container_has_a_liveness_probe(full: Release, dev: Release, with_mllp: Release) -> None:
    checked = [(w, c) for release in (full, dev, with_mllp) for w, c in _containers(release)]
    assert len(checked) >= 8
    assert [w["metadata"]["name"] for w, c in checked if "livenessProbe" not in c] == []


def _port_names(c: Manifest) -> dict[Any, int]:
    names: dict[Any, int] = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
    names.update({p["containerPort"]: p["containerPort"] for p in c.get("ports", [])})
    return names


def _probe_port(probe: Manifest) -> Any:
    handler = probe.get("httpGet") or probe.get("tcpSocket") or {}
    return handler.get("port")


@pytest.mark.parametrize("release_name", ["full", "dev", "with_mllp"])
def test_every_pod_a_service_routes_to_is_ready_only_when_its_target_port_answers(
    release_name: str, request: pytest.FixtureRequest
) -> None:
    release: Release = request.getfixturevalue(release_name)
    routed = 0
    for service in release.all("Service"):
        if service["spec"].get("clusterIP") == "None":
            continue  # the headless peer-discovery Service publishes not-ready pods on purpose
        selector = service["spec"]["selector"]
        for workload, c in _containers(release):
            if not selector.items() <= workload["spec"]["template"]["metadata"]["labels"].items():
                continue
            routed += 1
            probe = c.get("readinessProbe")
            assert probe, workload["metadata"]["name"]
            ports = _port_names(c)
            if c["name"] in ("keycloak", "mllp"):  # readiness on a health endpoint of its own port, by design
                assert probe["httpGet"]["path"] == "/health/ready"
                assert probe["httpGet"]["port"] in {p["name"] for p in c["ports"]}
                continue
            targets = {ports[p["targetPort"]] for p in service["spec"]["ports"]}
            assert ports[_probe_port(probe)] in targets, workload["metadata"]["name"]
    assert routed >= 2


def test_gateway_is_ready_only_once_its_consume_loop_runs(minimal: Release) -> None:
    gw = container(minimal.get("Deployment", "city-hds-gateway"), "gateway")
    assert gw["readinessProbe"]["httpGet"] == {"path": "/health/ready", "port": "metrics"}


def test_no_disruption_budget_selects_the_single_catalog_pod(full: Release, dev: Release, with_mllp: Release) -> None:
    # One replica: minAvailable 1 would block every node drain, maxUnavailable 1 would change nothing.
    for release in (full, dev, with_mllp):
        labels = release.get("StatefulSet", "city-hds-catalog")["spec"]["template"]["metadata"]["labels"]
        for pdb in release.all("PodDisruptionBudget"):
            assert not pdb["spec"]["selector"]["matchLabels"].items() <= labels.items(), pdb["metadata"]["name"]


def test_clustered_keycloak_gets_a_disruption_budget_and_a_single_one_none(chart: Chart, full: Release) -> None:
    assert not full.has("PodDisruptionBudget", "city-hds-keycloak")  # production example: one Keycloak pod
    values = merged(full_values(chart, full), {"keycloak": {"deploy": {"replicas": 3}}})
    release = render(chart, values)
    pdb = release.get("PodDisruptionBudget", "city-hds-keycloak")
    labels = release.get("Deployment", "city-hds-keycloak")["spec"]["template"]["metadata"]["labels"]
    assert pdb["spec"]["minAvailable"] == 1 and pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()


def full_values(chart: Chart, full: Release) -> dict[str, Any]:
    import yaml

    from helm_kit import CHART_DIR

    values: dict[str, Any] = yaml.safe_load((CHART_DIR / "ci" / "production-values.yaml").read_text())
    if not (CHART_DIR / "files" / "realm-hds.json").exists():
        from helm_kit import REALM_JSON

        values = merged(values, {"keycloak": {"deploy": {"realmJson": REALM_JSON}}})
    return values


AUTOSCALING = {"gateway": {"autoscaling": {"enabled": True, "minReplicas": 2, "maxReplicas": 24, "lagPerReplica": "2000"}}}


def test_gateway_autoscaling_is_off_by_default(minimal: Release) -> None:
    assert minimal.all("HorizontalPodAutoscaler") == []
    assert minimal.get("Deployment", "city-hds-gateway")["spec"]["replicas"] == 3


def test_given_autoscaling_then_an_hpa_scales_the_gateway_on_its_consumer_group_lag(chart: Chart) -> None:
    release = render(chart, merged(MINIMAL_PRODUCTION, AUTOSCALING))
    hpa = release.get("HorizontalPodAutoscaler", "city-hds-gateway")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "city-hds-gateway"}
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 24)
    [metric] = hpa["spec"]["metrics"]
    assert metric["type"] == "External"
    assert metric["external"]["metric"] == {"name": "kafka_consumergroup_lag",
                                            "selector": {"matchLabels": {"consumergroup": "hds-gateway"}}}
    assert metric["external"]["target"] == {"type": "AverageValue", "averageValue": "2000"}
    # The HPA owns the replica count: the Deployment must not fight it on every upgrade.
    assert "replicas" not in release.get("Deployment", "city-hds-gateway")["spec"]


def test_given_autoscaling_with_max_below_min_then_render_is_refused(chart: Chart) -> None:
    values = merged(MINIMAL_PRODUCTION, {"gateway": {"autoscaling": {"enabled": True, "minReplicas": 5, "maxReplicas": 2}}})
    with pytest.raises(HelmRenderError, match="maxReplicas must not be below"):
        render(chart, values)
