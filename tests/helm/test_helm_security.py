"""Pods run unprivileged, and NetworkPolicies keep the restricted zone (the gateway) apart."""

from __future__ import annotations

from typing import Any

import pytest
from helm_python import Chart

from helm_kit import MINIMAL_PRODUCTION
from helm_kit import Manifest, Release, merged, render

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "Job")


def _pod_specs(release: Release) -> list[tuple[str, Manifest]]:
    return [
        (m["metadata"]["name"], m["spec"]["template"]["spec"])
        for kind in WORKLOAD_KINDS
        for m in release.all(kind)
    ]


def test_full_release_renders_every_workload(full: Release) -> None:
    names = {name for name, _ in _pod_specs(full)}
    assert names == {
        "city-hds-gateway",
        "city-hds-catalog",
        "city-hds-keycloak",
        "city-hds-keycloak-bootstrap",
        "city-hds-kafka-topics",
    }


def test_every_pod_runs_as_non_root_without_privilege_escalation(full: Release) -> None:
    for name, spec in _pod_specs(full):
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        assert spec["automountServiceAccountToken"] is False, name
        for c in spec["containers"]:
            assert c["securityContext"]["allowPrivilegeEscalation"] is False, name
            assert c["securityContext"]["capabilities"]["drop"] == ["ALL"], name


def test_every_container_has_a_read_only_root_filesystem(full: Release, dev: Release, with_mllp: Release) -> None:
    containers = [(name, c) for release in (full, dev, with_mllp) for name, spec in _pod_specs(release)
                  for c in spec["containers"]]
    assert len(containers) >= 8
    assert [name for name, c in containers if c["securityContext"].get("readOnlyRootFilesystem") is not True] == []


def test_keycloak_writes_only_to_the_emptydirs_its_read_only_container_needs(full: Release) -> None:
    spec = full.get("Deployment", "city-hds-keycloak")["spec"]["template"]["spec"]
    [kc] = spec["containers"]
    mounts = {m["mountPath"]: m["name"] for m in kc["volumeMounts"]}
    empty = {v["name"] for v in spec["volumes"] if "emptyDir" in v}
    writable = {path for path, volume in mounts.items() if volume in empty}
    assert writable == {"/tmp", "/opt/keycloak/lib/quarkus", "/opt/keycloak/data"}
    # The realm import sits inside the writable data directory, mounted read-only from its ConfigMap.
    [realm] = [m for m in kc["volumeMounts"] if m["name"] == "realm"]
    assert realm["mountPath"] == "/opt/keycloak/data/import" and realm["readOnly"] is True


def test_every_container_declares_resource_requests_and_limits(full: Release) -> None:
    for name, spec in _pod_specs(full):
        for c in spec["containers"]:
            assert c["resources"]["requests"] and c["resources"]["limits"], name


def test_read_only_hds_containers_get_a_writable_tmp(full: Release) -> None:
    for name, spec in _pod_specs(full):
        for c in spec["containers"]:
            if c["securityContext"]["readOnlyRootFilesystem"]:
                assert "/tmp" in {m["mountPath"] for m in c["volumeMounts"]}, name


def _policy(release: Release, component: str) -> Manifest:
    return release.get("NetworkPolicy", f"city-hds-{component}")


def _egress_ports(policy: Manifest) -> set[int]:
    return {p["port"] for rule in policy["spec"]["egress"] for p in rule.get("ports", [])}


def test_gateway_in_the_restricted_zone_accepts_no_connections(full: Release) -> None:
    policy = _policy(full, "gateway")
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert policy["spec"]["ingress"] == []
    pod_labels = full.get("Deployment", "city-hds-gateway")["spec"]["template"]["metadata"]["labels"]
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= pod_labels.items()
    assert pod_labels["hds.city/zone"] == "restricted"


def test_gateway_reaches_only_dns_and_kafka(full: Release) -> None:
    policy = _policy(full, "gateway")
    assert _egress_ports(policy) == {53, 9092}
    [kafka_rule] = [r for r in policy["spec"]["egress"] if r["ports"][0]["port"] == 9092]
    assert kafka_rule["to"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kafka"}}}]


def test_catalog_accepts_only_its_api_port_from_the_public_ingress(full: Release) -> None:
    policy = _policy(full, "catalog")
    [rule] = policy["spec"]["ingress"]
    assert rule["ports"] == [{"port": 8000, "protocol": "TCP"}]
    assert rule["from"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}]
    pod_labels = full.get("StatefulSet", "city-hds-catalog")["spec"]["template"]["metadata"]["labels"]
    assert pod_labels["hds.city/zone"] == "deidentified"


def test_catalog_cannot_open_connections_to_the_gateway(full: Release) -> None:
    gateway_labels = full.get("Deployment", "city-hds-gateway")["spec"]["template"]["metadata"]["labels"]
    for rule in _policy(full, "catalog")["spec"]["egress"]:
        for peer in rule.get("to", []):
            selected = peer.get("podSelector", {}).get("matchLabels", {})
            assert not (selected and selected.items() <= gateway_labels.items())


def test_catalog_reaches_kafka_keycloak_and_the_issuer(full: Release) -> None:
    assert _egress_ports(_policy(full, "catalog")) == {53, 9092, 8080, 443}


def test_given_network_policy_disabled_then_none_rendered(chart: Chart) -> None:
    release = render(chart, merged(MINIMAL_PRODUCTION, {"networkPolicy": {"enabled": False}}))
    assert release.all("NetworkPolicy") == []


@pytest.mark.parametrize("component", ["gateway", "catalog"])
def test_given_no_kafka_peers_then_kafka_egress_is_port_restricted_to_any_host(
    minimal: Release, component: str
) -> None:
    rules: list[dict[str, Any]] = _policy(minimal, component)["spec"]["egress"]
    [kafka_rule] = [r for r in rules if r["ports"][0]["port"] == 9092]
    assert "to" not in kafka_rule


def _pod_labels(release: Release) -> dict[str, dict[str, str]]:
    return {m["metadata"]["name"]: m["spec"]["template"]["metadata"]["labels"]
            for kind in ("Deployment", "StatefulSet") for m in release.all(kind)}


@pytest.mark.parametrize("release_name", ["full", "dev", "with_mllp"])
def test_the_catalog_can_open_no_connection_into_the_raw_zone(release_name: str, request: pytest.FixtureRequest) -> None:
    release: Release = request.getfixturevalue(release_name)
    restricted = {name: labels for name, labels in _pod_labels(release).items() if labels.get("hds.city/zone") == "restricted"}
    assert "city-hds-gateway" in restricted
    egress = _policy(release, "catalog")["spec"]["egress"]
    for rule in egress:
        for peer in rule.get("to", []):
            selected = peer.get("podSelector", {}).get("matchLabels")
            if selected is not None:
                assert [n for n, labels in restricted.items() if selected.items() <= labels.items()] == []
    # Nor may it reach a restricted pod's own ports (gateway metrics, MLLP listeners) through an open-ended rule.
    restricted_ports = {p["containerPort"] for kind in ("Deployment",) for m in release.all(kind)
                        if m["metadata"]["name"] in restricted
                        for c in m["spec"]["template"]["spec"]["containers"] for p in c.get("ports", [])}
    assert restricted_ports and restricted_ports.isdisjoint(_egress_ports(_policy(release, "catalog")))


def test_restricted_zone_pods_admit_no_connection_from_the_catalog(chart: Chart) -> None:
    from helm_kit import WITH_MLLP

    senders = [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "hospital-gateways"}}}]
    release = render(chart, merged(WITH_MLLP, {"mllp": {"allowFrom": senders}}))
    catalog = release.get("StatefulSet", "city-hds-catalog")["spec"]["template"]["metadata"]["labels"]
    for component in ("gateway", "mllp"):
        for rule in _policy(release, component)["spec"]["ingress"]:
            assert rule.get("from"), component  # never "from anywhere" once senders are named
            for peer in rule["from"]:
                selected = peer.get("podSelector", {}).get("matchLabels")
                assert not (selected and selected.items() <= catalog.items()), component


def test_dev_broker_admits_only_the_release_kafka_clients_and_opens_nothing(dev: Release) -> None:
    policy = _policy(dev, "broker")
    assert policy["spec"]["egress"] == []
    [rule] = policy["spec"]["ingress"]
    components = {p["podSelector"]["matchLabels"]["app.kubernetes.io/component"] for p in rule["from"]}
    assert components == {"gateway", "catalog", "mllp", "synthetic-feeds"}
    # Kafka egress of the hds pods goes to the broker pods only.
    [kafka] = [r for r in _policy(dev, "catalog")["spec"]["egress"] if r["ports"][0]["port"] == 9092]
    assert kafka["to"] == [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "hds", "app.kubernetes.io/instance": "city",
                                                           "app.kubernetes.io/component": "broker"}}}]
