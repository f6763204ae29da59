"""The catalog: one writer of the DuckDB file, so a one-replica StatefulSet with its own volume."""

from __future__ import annotations

from helm_python import Chart

from helm_kit import MINIMAL_PRODUCTION
from helm_kit import Release, container, env_of, merged, render


def test_catalog_is_a_single_replica_statefulset_even_when_asked_for_more(chart: Chart) -> None:
    # There is no catalog.replicas value: DuckDB allows one writer per file.
    release = render(chart, MINIMAL_PRODUCTION)
    sts = release.get("StatefulSet", "city-hds-catalog")
    assert sts["spec"]["replicas"] == 1
    assert sts["spec"]["updateStrategy"]["type"] == "RollingUpdate"
    assert release.all("Deployment") == [release.get("Deployment", "city-hds-gateway")]


def test_catalog_keeps_its_duckdb_file_on_a_persistent_volume(chart: Chart) -> None:
    release = render(chart, merged(MINIMAL_PRODUCTION, {"catalog": {"persistence": {"size": "200Gi", "storageClass": "fast-ssd"}}}))
    sts = release.get("StatefulSet", "city-hds-catalog")
    [claim] = sts["spec"]["volumeClaimTemplates"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "200Gi"
    assert claim["spec"]["storageClassName"] == "fast-ssd"
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    c = container(sts, "catalog")
    mount = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    assert mount[claim["metadata"]["name"]] == "/var/lib/hds"
    assert env_of(c)["HDS_CATALOG_DB"]["value"] == "/var/lib/hds/catalog.duckdb"
    assert sts["spec"]["persistentVolumeClaimRetentionPolicy"]["whenDeleted"] == "Retain"


def test_catalog_serves_on_the_configured_port_on_all_interfaces(chart: Chart) -> None:
    release = render(chart, merged(MINIMAL_PRODUCTION, {"catalog": {"port": 8080}}))
    c = container(release.get("StatefulSet", "city-hds-catalog"), "catalog")
    env = env_of(c)
    assert c["args"] == ["catalog", "serve", "--port", "8080"]
    assert env["HDS_API_HOST"]["value"] == "0.0.0.0"
    assert env["HDS_API_PORT"]["value"] == "8080"
    assert c["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]


def test_catalog_probes_use_the_unauthenticated_health_endpoints(minimal: Release) -> None:
    c = container(minimal.get("StatefulSet", "city-hds-catalog"), "catalog")
    assert c["livenessProbe"]["httpGet"] == {"path": "/health/live", "port": "http"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/health/ready", "port": "http"}  # the loader has polled
    for probe in ("livenessProbe", "readinessProbe"):
        assert c[probe]["periodSeconds"] > 0


def test_catalog_pods_and_service_carry_prometheus_scrape_annotations(minimal: Release) -> None:
    pod = minimal.get("StatefulSet", "city-hds-catalog")["spec"]["template"]["metadata"]["annotations"]
    svc = minimal.get("Service", "city-hds-catalog")["metadata"]["annotations"]
    for annotations in (pod, svc):
        assert annotations["prometheus.io/scrape"] == "true"
        assert annotations["prometheus.io/path"] == "/metrics"
        assert annotations["prometheus.io/port"] == "8000"


def test_given_scrape_disabled_then_no_prometheus_annotations(chart: Chart) -> None:
    release = render(chart, merged(MINIMAL_PRODUCTION, {"catalog": {"metrics": {"scrape": False}}}))
    pod = release.get("StatefulSet", "city-hds-catalog")["spec"]["template"]["metadata"]["annotations"]
    assert not any(key.startswith("prometheus.io/") for key in pod)


def test_catalog_service_targets_catalog_pods_on_port_8000(minimal: Release) -> None:
    svc = minimal.get("Service", "city-hds-catalog")
    pod_labels = minimal.get("StatefulSet", "city-hds-catalog")["spec"]["template"]["metadata"]["labels"]
    assert svc["spec"]["ports"] == [{"name": "http", "port": 8000, "targetPort": "http", "protocol": "TCP"}]
    assert svc["spec"]["selector"].items() <= pod_labels.items()
    assert svc["spec"]["selector"]["app.kubernetes.io/component"] == "catalog"


def test_catalog_environment_wires_loader_group_identity_and_admin_secret(full: Release) -> None:
    env = env_of(container(full.get("StatefulSet", "city-hds-catalog"), "catalog"))
    assert env["HDS_LOADER_GROUP"]["value"] == "hds-catalog-loader"
    assert env["HDS_OIDC_ISSUER"]["value"] == "https://id.city.example/realms/hds"
    assert env["HDS_OIDC_AUDIENCE"]["value"] == "hds-api"
    assert env["HDS_KEYCLOAK_URL"]["value"] == "http://city-hds-keycloak:8080"
    assert env["HDS_KEYCLOAK_REALM"]["value"] == "hds"
    assert env["HDS_KEYCLOAK_ADMIN_CLIENT_ID"]["value"] == "hds-api"
    assert env["HDS_KEYCLOAK_ADMIN_CLIENT_SECRET"]["valueFrom"]["secretKeyRef"] == {
        "name": "hds-keycloak-admin-client",
        "key": "client-secret",
    }


def test_given_only_gateway_holds_keys_then_catalog_gets_no_key_secret(chart: Chart) -> None:
    release = render(chart, merged(MINIMAL_PRODUCTION, {"deid": {"keySecret": {"onlyGateway": True}}}))
    catalog_env = env_of(container(release.get("StatefulSet", "city-hds-catalog"), "catalog"))
    gateway_env = env_of(container(release.get("Deployment", "city-hds-gateway"), "gateway"))
    assert "HDS_DEID_KEYS" not in catalog_env
    assert "HDS_DEID_KEYS" in gateway_env
    sandbox = catalog_env["HDS_SANDBOX_KEY"]["valueFrom"]["secretKeyRef"]
    assert sandbox == {"name": "hds-deid-keys", "key": "HDS_SANDBOX_KEY", "optional": False}
    assert "HDS_SANDBOX_KEY" not in gateway_env


def test_given_ingress_enabled_then_it_routes_the_host_to_the_catalog_service(full: Release) -> None:
    ingress = full.get("Ingress", "city-hds-catalog")
    [rule] = ingress["spec"]["rules"]
    assert rule["host"] == "data.city.example"
    assert rule["http"]["paths"][0]["backend"]["service"]["name"] == "city-hds-catalog"
    assert ingress["spec"]["tls"][0]["secretName"] == "data-city-example-tls"


def test_catalog_environment_is_accepted_by_settings_from_env(full: Release) -> None:
    from policies.settings import Settings

    env = env_of(container(full.get("StatefulSet", "city-hds-catalog"), "catalog"))
    plain = {name: var["value"] for name, var in env.items() if "value" in var}
    # Kubernetes fills the Secret-backed variables; stand in values of production grade for them.
    plain |= {"HDS_DEID_KEYS": "k1:" + "x" * 40, "HDS_KEYCLOAK_ADMIN_CLIENT_SECRET": "stand-in"}
    settings = Settings.from_env(plain)
    assert settings.production
    assert str(settings.db_path) == "/var/lib/hds/catalog.duckdb"
    assert (settings.api_host, settings.api_port) == ("0.0.0.0", 8000)
    assert settings.loader_group == "hds-catalog-loader"
    assert settings.keycloak_admin_client_id == "hds-api"
    assert (settings.query_timeout_s, settings.query_memory_limit, settings.query_max_rows) == (30.0, "1GB", 10000)
