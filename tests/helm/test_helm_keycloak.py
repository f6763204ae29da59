"""Keycloak: external, or deployed by the chart importing the repository's realm; an idempotent bootstrap Job."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from helm_python import Chart
from helm_python.errors import HelmRenderError

from helm_kit import MINIMAL_PRODUCTION, REALM_JSON
from helm_kit import CHART_DIR, REPO_ROOT, Release, container, env_of, merged, render

REALM_SOURCE = REPO_ROOT / "policies" / "keycloak" / "realm-hds.json"
REALM_COPY = CHART_DIR / "files" / "realm-hds.json"

# What the repository realm's ${...} placeholders need: the API client's secret and the portal's public URL.
WIRED_PLACEHOLDERS: dict[str, Any] = {
    "keycloak": {"adminClient": {"id": "hds-api", "secretName": "hds-api-client"}},
    "catalog": {"ingress": {"enabled": True, "host": "data.city.example"}},
}

DEPLOYED: dict[str, Any] = {
    "keycloak": {
        "adminClient": {"secretName": "hds-api-client"},
        "deploy": {
            "enabled": True,
            "hostname": "id.city.example",
            "adminSecretName": "kc-admin",
            "database": {"url": "jdbc:postgresql://pg:5432/keycloak", "secretName": "kc-db"},
        }
    }
}


def test_given_deployed_keycloak_then_it_starts_with_realm_import(full: Release) -> None:
    kc = container(full.get("Deployment", "city-hds-keycloak"), "keycloak")
    assert kc["image"].startswith("quay.io/keycloak/keycloak:")
    assert kc["args"] == ["start", "--import-realm"]
    assert {"name": "realm", "mountPath": "/opt/keycloak/data/import", "readOnly": True} in kc["volumeMounts"]


def test_given_deployed_keycloak_then_realm_configmap_holds_the_realm_json(
    full: Release, expected_realm: dict[str, Any]
) -> None:
    cm = full.get("ConfigMap", "city-hds-keycloak-realm")
    assert json.loads(cm["data"]["realm-hds.json"]) == expected_realm
    volumes = full.get("Deployment", "city-hds-keycloak")["spec"]["template"]["spec"]["volumes"]
    assert {"name": "realm", "configMap": {"name": "city-hds-keycloak-realm"}} in volumes


def test_given_deployed_keycloak_then_admin_and_database_credentials_come_from_secrets(full: Release) -> None:
    env = env_of(container(full.get("Deployment", "city-hds-keycloak"), "keycloak"))
    for name, secret in [
        ("KC_BOOTSTRAP_ADMIN_USERNAME", "hds-keycloak-bootstrap-admin"),
        ("KC_BOOTSTRAP_ADMIN_PASSWORD", "hds-keycloak-bootstrap-admin"),
        ("KC_DB_USERNAME", "hds-keycloak-db"),
        ("KC_DB_PASSWORD", "hds-keycloak-db"),
    ]:
        assert env[name]["valueFrom"]["secretKeyRef"]["name"] == secret
        assert "value" not in env[name]
    assert env["KC_DB"]["value"] == "postgres"
    assert env["KC_HOSTNAME"]["value"] == "https://id.city.example"


def test_given_deployed_keycloak_with_hostname_then_services_expect_its_public_issuer(chart: Chart) -> None:
    values = merged(merged(MINIMAL_PRODUCTION, {"oidc": {"issuer": ""}}), DEPLOYED)
    values = merged(values, {"keycloak": {"deploy": {"realmJson": REALM_JSON}}})
    release = render(chart, values)
    env = env_of(container(release.get("StatefulSet", "city-hds-catalog"), "catalog"))
    assert env["HDS_OIDC_ISSUER"]["value"] == "https://id.city.example/realms/hds"
    assert env["HDS_KEYCLOAK_URL"]["value"] == "http://city-hds-keycloak:8080"


def test_given_external_keycloak_then_no_keycloak_is_deployed_and_services_use_its_url(chart: Chart) -> None:
    values = merged(
        MINIMAL_PRODUCTION,
        {"oidc": {"issuer": ""}, "keycloak": {"url": "https://sso.city.example/", "adminClient": {"secretName": "hds-api-client"}}},
    )
    release = render(chart, values)
    assert not release.has("Deployment", "city-hds-keycloak")
    env = env_of(container(release.get("StatefulSet", "city-hds-catalog"), "catalog"))
    assert env["HDS_KEYCLOAK_URL"]["value"] == "https://sso.city.example/"
    assert env["HDS_OIDC_ISSUER"]["value"] == "https://sso.city.example/realms/hds"


def test_given_realm_configmap_named_then_chart_mounts_it_and_renders_none(chart: Chart) -> None:
    values = merged(merged(MINIMAL_PRODUCTION, DEPLOYED), {"keycloak": {"deploy": {"realmConfigMap": "city-realm"}}})
    release = render(chart, values)
    assert not release.has("ConfigMap", "city-hds-keycloak-realm")
    volumes = release.get("Deployment", "city-hds-keycloak")["spec"]["template"]["spec"]["volumes"]
    assert {"name": "realm", "configMap": {"name": "city-realm"}} in volumes
    assert [v["name"] for v in volumes if "configMap" in v] == ["realm"]


def test_given_realm_json_for_another_realm_then_render_is_refused(chart: Chart) -> None:
    values = merged(merged(MINIMAL_PRODUCTION, DEPLOYED), {"keycloak": {"deploy": {"realmJson": '{"realm": "other"}'}}})
    with pytest.raises(HelmRenderError, match="defines a realm other than keycloak.realm"):
        render(chart, values)


def test_given_invalid_realm_json_then_render_is_refused(chart: Chart) -> None:
    values = merged(merged(MINIMAL_PRODUCTION, DEPLOYED), {"keycloak": {"deploy": {"realmJson": '{"realm": '}}})
    with pytest.raises(HelmRenderError, match="not valid JSON"):
        render(chart, values)


def test_given_import_disabled_then_keycloak_starts_without_import(chart: Chart) -> None:
    values = merged(merged(MINIMAL_PRODUCTION, DEPLOYED), {"keycloak": {"deploy": {"importRealm": False}}})
    release = render(chart, values)
    assert container(release.get("Deployment", "city-hds-keycloak"), "keycloak")["args"] == ["start"]
    assert not release.has("ConfigMap", "city-hds-keycloak-realm")


def test_given_several_keycloak_replicas_then_they_cluster_through_a_headless_service(chart: Chart) -> None:
    values = merged(merged(MINIMAL_PRODUCTION, DEPLOYED), {"keycloak": {"deploy": {"replicas": 3, "realmJson": REALM_JSON}}})
    release = render(chart, values)
    headless = release.get("Service", "city-hds-keycloak-headless")
    assert headless["spec"]["clusterIP"] == "None"
    env = env_of(container(release.get("Deployment", "city-hds-keycloak"), "keycloak"))
    assert env["KC_CACHE_STACK"]["value"] == "kubernetes"
    assert "city-hds-keycloak-headless" in env["JAVA_OPTS_APPEND"]["value"]


def test_bootstrap_job_runs_hds_keycloak_bootstrap_after_install_and_upgrade(full: Release) -> None:
    job = full.get("Job", "city-hds-keycloak-bootstrap")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "post-install,post-upgrade"
    c = container(job, "bootstrap")
    assert c["args"] == [
        "keycloak", "bootstrap",
        "--realm-file", "/etc/hds/realm/realm-hds.json",
        "--auth-realm", "master",
        "--portal-url", "https://data.city.example",
        "--hospital", "st-luke", "--hospital", "riverside", "--hospital", "north-general",
    ]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    assert job["spec"]["backoffLimit"] >= 1


def test_bootstrap_job_signs_in_as_keycloak_admin_and_sets_the_api_client_secret(full: Release) -> None:
    env = env_of(container(full.get("Job", "city-hds-keycloak-bootstrap"), "bootstrap"))
    for name in ("HDS_KEYCLOAK_ADMIN_USER", "HDS_KEYCLOAK_ADMIN_PASSWORD"):
        assert env[name]["valueFrom"]["secretKeyRef"]["name"] == "hds-keycloak-bootstrap-admin"
    assert env["HDS_API_CLIENT_SECRET"]["valueFrom"]["secretKeyRef"] == {"name": "hds-keycloak-admin-client", "key": "client-secret"}
    assert env["HDS_KEYCLOAK_URL"]["value"] == "http://city-hds-keycloak:8080"


def test_bootstrap_job_reads_the_same_realm_configmap_keycloak_imports(full: Release) -> None:
    job_volumes = full.get("Job", "city-hds-keycloak-bootstrap")["spec"]["template"]["spec"]["volumes"]
    kc_volumes = full.get("Deployment", "city-hds-keycloak")["spec"]["template"]["spec"]["volumes"]
    assert {"name": "realm", "configMap": {"name": "city-hds-keycloak-realm"}} in job_volumes
    assert {"name": "realm", "configMap": {"name": "city-hds-keycloak-realm"}} in kc_volumes


def test_given_external_keycloak_and_bootstrap_job_then_the_realm_configmap_is_still_rendered(chart: Chart) -> None:
    values = merged(
        MINIMAL_PRODUCTION,
        {"keycloak": {"url": "https://sso.city.example", "adminClient": {"secretName": "hds-api-client"},
                      "deploy": {"realmJson": REALM_JSON, "portalUrl": "https://data.city.example"},
                      "bootstrapJob": {"enabled": True, "adminSecretName": "sso-admin"}}},
    )
    release = render(chart, values)
    assert not release.has("Deployment", "city-hds-keycloak")
    assert json.loads(release.get("ConfigMap", "city-hds-keycloak-realm")["data"]["realm-hds.json"])["realm"] == "hds"
    env = env_of(container(release.get("Job", "city-hds-keycloak-bootstrap"), "bootstrap"))
    assert env["HDS_KEYCLOAK_ADMIN_USER"]["valueFrom"]["secretKeyRef"]["name"] == "sso-admin"
    assert env["HDS_KEYCLOAK_URL"]["value"] == "https://sso.city.example"


def test_chart_copy_of_the_realm_matches_the_repository_realm() -> None:
    if not REALM_SOURCE.exists():
        pytest.skip("policies/keycloak/realm-hds.json is not in this checkout")
    assert REALM_COPY.exists(), "copy policies/keycloak/realm-hds.json to helm/hds/files/ (docs/deployment.md)"
    assert REALM_COPY.read_bytes() == REALM_SOURCE.read_bytes(), "helm/hds/files/realm-hds.json is stale: copy it again"


def test_given_no_realm_in_values_then_the_chart_imports_the_repository_realm(chart: Chart) -> None:
    if not REALM_COPY.exists():
        pytest.skip("helm/hds/files/realm-hds.json has not been copied from policies/keycloak/")
    values = merged(merged(MINIMAL_PRODUCTION, DEPLOYED), WIRED_PLACEHOLDERS)
    release = render(chart, values)
    data = release.get("ConfigMap", "city-hds-keycloak-realm")["data"]["realm-hds.json"]
    assert json.loads(data) == json.loads(Path(REALM_COPY).read_text())
    assert json.loads(data)["realm"] == "hds"


def test_given_realm_placeholders_then_keycloak_gets_them_from_secret_and_portal_url(chart: Chart) -> None:
    realm = json.dumps({"realm": "hds", "clients": [{"clientId": "hds-api", "secret": "${HDS_API_CLIENT_SECRET}",
                                                     "redirectUris": ["${HDS_PORTAL_URL}/*"]}]})
    values = merged(merged(MINIMAL_PRODUCTION, DEPLOYED), merged(WIRED_PLACEHOLDERS, {"keycloak": {"deploy": {"realmJson": realm}}}))
    env = env_of(container(render(chart, values).get("Deployment", "city-hds-keycloak"), "keycloak"))
    assert env["HDS_API_CLIENT_SECRET"]["valueFrom"]["secretKeyRef"] == {"name": "hds-api-client", "key": "client-secret"}
    assert env["HDS_PORTAL_URL"]["value"] == "https://data.city.example"


@pytest.mark.parametrize(
    ("placeholder", "reason"),
    [
        ("${HDS_PORTAL_URL}", "set keycloak.deploy.portalUrl"),
        ("${SOMETHING_ELSE}", "which the chart does not provide"),
    ],
)
def test_given_realm_placeholder_the_chart_cannot_fill_then_render_is_refused(
    chart: Chart, placeholder: str, reason: str
) -> None:
    realm = json.dumps({"realm": "hds", "attributes": {"x": placeholder}})
    values = merged(merged(MINIMAL_PRODUCTION, DEPLOYED), {"keycloak": {"deploy": {"realmJson": realm}}})
    with pytest.raises(HelmRenderError, match=re.escape(reason)):
        render(chart, values)
