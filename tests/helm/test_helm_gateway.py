"""The gateway: a stateless Deployment of N replicas in one consumer group, keys from a Secret."""

from __future__ import annotations

from typing import Any

from helm_python import Chart

from helm_kit import MINIMAL_PRODUCTION
from helm_kit import Release, container, env_of, merged, render


def test_given_replica_count_then_gateway_deployment_runs_that_many(chart: Chart) -> None:
    release = render(chart, merged(MINIMAL_PRODUCTION, {"gateway": {"replicas": 7}}))
    assert release.get("Deployment", "city-hds-gateway")["spec"]["replicas"] == 7


def test_gateway_runs_the_gateway_subcommand_of_the_hds_image(minimal: Release) -> None:
    gw = container(minimal.get("Deployment", "city-hds-gateway"), "gateway")
    assert gw["args"] == ["gateway"]
    assert gw["image"] == "ghcr.io/city-health/hds:0.1.0"


def test_gateway_pseudonymisation_keys_come_from_the_named_secret(minimal: Release) -> None:
    env = env_of(container(minimal.get("Deployment", "city-hds-gateway"), "gateway"))
    keys = env["HDS_DEID_KEYS"]
    assert "value" not in keys
    assert keys["valueFrom"]["secretKeyRef"] == {"name": "hds-deid-keys", "key": "HDS_DEID_KEYS"}
    key_id = env["HDS_DEID_KEY_ID"]["valueFrom"]["secretKeyRef"]
    assert key_id["name"] == "hds-deid-keys" and key_id["optional"] is True


def test_gateway_environment_matches_settings_from_env(minimal: Release) -> None:
    env = env_of(container(minimal.get("Deployment", "city-hds-gateway"), "gateway"))
    assert env["HDS_ENV"]["value"] == "production"
    assert env["HDS_KAFKA_BOOTSTRAP"]["value"] == "kafka-0.kafka:9092,kafka-1.kafka:9092"
    assert env["HDS_GATEWAY_GROUP"]["value"] == "hds-gateway"
    assert env["HDS_KAFKA_SESSION_TIMEOUT_MS"]["value"] == "10000"
    assert env["HDS_DATA_DIR"]["value"] == "/var/lib/hds"
    # The gateway never mirrors grants: it gets no Keycloak admin credentials.
    assert "HDS_KEYCLOAK_ADMIN_CLIENT_SECRET" not in env


def test_gateway_environment_is_accepted_by_settings_from_env(minimal: Release) -> None:
    from policies.settings import Settings

    env = env_of(container(minimal.get("Deployment", "city-hds-gateway"), "gateway"))
    plain = {name: var["value"] for name, var in env.items() if "value" in var}
    # Kubernetes fills the Secret-backed variables; stand in a production-grade key for them.
    plain["HDS_DEID_KEYS"] = "k1:" + "x" * 40
    settings = Settings.from_env(plain)
    assert settings.production
    assert settings.kafka_bootstrap == "kafka-0.kafka:9092,kafka-1.kafka:9092"
    assert settings.oidc_issuer == "https://id.city.example/realms/hds"


def test_gateway_has_a_pod_disruption_budget_selecting_its_pods(minimal: Release) -> None:
    pdb = minimal.get("PodDisruptionBudget", "city-hds-gateway")
    selector = pdb["spec"]["selector"]["matchLabels"]
    labels = minimal.get("Deployment", "city-hds-gateway")["spec"]["template"]["metadata"]["labels"]
    assert pdb["spec"]["minAvailable"] == 1
    assert selector.items() <= labels.items()


def test_given_pdb_disabled_then_no_pod_disruption_budget(chart: Chart) -> None:
    release = render(chart, merged(MINIMAL_PRODUCTION, {"gateway": {"pdb": {"enabled": False}}}))
    assert release.all("PodDisruptionBudget") == []


def test_gateway_requests_and_limits_resources(minimal: Release) -> None:
    resources = container(minimal.get("Deployment", "city-hds-gateway"), "gateway")["resources"]
    assert set(resources) == {"requests", "limits"}
    assert {"cpu", "memory"} <= set(resources["requests"]) and {"cpu", "memory"} <= set(resources["limits"])


def test_given_policy_files_then_pods_restart_when_they_change(chart: Chart) -> None:
    def checksum(files: dict[str, Any]) -> str:
        release = render(chart, merged(MINIMAL_PRODUCTION, {"policies": {"files": files}}))
        return release.get("Deployment", "city-hds-gateway")["spec"]["template"]["metadata"]["annotations"]["checksum/policies"]

    assert checksum({"feeds.yaml": "feeds: {}\n"}) != checksum({"feeds.yaml": "feeds: {a: 1}\n"})


def test_given_more_replicas_than_raw_partitions_then_install_notes_warn(chart: Chart) -> None:
    feeds = [{"hospital": "riverside", "feed": "adt", "partitions": 2}, {"hospital": "riverside", "feed": "lab", "partitions": 1}]
    values = merged(MINIMAL_PRODUCTION, {"gateway": {"replicas": 5}, "kafka": {"topics": {"feeds": feeds}}})
    notes = render(chart, values).notes
    assert "Raw partitions of the listed feeds: 3." in notes
    assert "WARNING: 2 gateway replicas will idle" in notes


def test_given_enough_raw_partitions_then_install_notes_do_not_warn(full: Release) -> None:
    assert "Raw partitions of the listed feeds: 33." in full.notes
    assert "WARNING" not in full.notes


def test_gateway_liveness_probe_checks_the_consume_loop_on_the_metrics_port(minimal: Release) -> None:
    gw = container(minimal.get("Deployment", "city-hds-gateway"), "gateway")
    assert gw["ports"] == [{"name": "metrics", "containerPort": 9100}]
    assert gw["livenessProbe"]["httpGet"] == {"path": "/health/live", "port": "metrics"}
    assert env_of(gw)["HDS_GATEWAY_METRICS_PORT"]["value"] == "9100"
    assert env_of(gw)["HDS_GATEWAY_METRICS_HOST"]["value"] == "0.0.0.0"
