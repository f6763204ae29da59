"""The chart fails closed: it refuses to render an incomplete or unsafe production release."""

from __future__ import annotations

from typing import Any

import pytest
from helm_python import Chart
from helm_python.errors import HelmRenderError

from helm_kit import MINIMAL_PRODUCTION
from helm_kit import env_of, container, merged, render


def _refusal(chart: Chart, values: dict[str, Any]) -> str:
    with pytest.raises(HelmRenderError) as refused:
        render(chart, values)
    return str(refused.value)


def test_given_chart_defaults_then_render_is_refused_until_kafka_is_named(chart: Chart) -> None:
    assert "kafka.bootstrap is required" in _refusal(chart, {})


def test_given_production_without_key_secret_then_render_is_refused(chart: Chart) -> None:
    values = merged(MINIMAL_PRODUCTION, {"deid": {"keySecret": {"name": ""}}})
    message = _refusal(chart, values)
    assert "deid.keySecret.name is required when env=production" in message


def test_given_production_without_any_issuer_then_render_is_refused(chart: Chart) -> None:
    values = merged(MINIMAL_PRODUCTION, {"oidc": {"issuer": ""}})
    assert "oidc.issuer is required" in _refusal(chart, values)


def test_given_deployed_keycloak_on_dev_file_database_in_production_then_render_is_refused(chart: Chart) -> None:
    values = merged(
        MINIMAL_PRODUCTION,
        {"keycloak": {"deploy": {"enabled": True, "adminSecretName": "kc-admin", "realmJson": '{"realm": "hds"}',
                                 "database": {"vendor": "dev-file"}}}},
    )
    assert "dev-file is refused" in _refusal(chart, values)


def test_given_deployed_keycloak_without_admin_secret_in_production_then_render_is_refused(chart: Chart) -> None:
    values = merged(MINIMAL_PRODUCTION, {"keycloak": {"deploy": {"enabled": True, "realmJson": '{"realm": "hds"}'}}})
    assert "keycloak.deploy.adminSecretName is required" in _refusal(chart, values)


def test_given_keycloak_without_admin_client_secret_then_render_is_refused(chart: Chart) -> None:
    # The catalog mirrors grants into any configured Keycloak and refuses to start without the client's secret.
    values = merged(MINIMAL_PRODUCTION, {"keycloak": {"url": "https://sso.city.example"}})
    assert "keycloak.adminClient.id and keycloak.adminClient.secretName are required" in _refusal(chart, values)


def test_given_bootstrap_job_without_keycloak_admin_secret_then_render_is_refused(chart: Chart) -> None:
    values = merged(
        MINIMAL_PRODUCTION,
        {"keycloak": {"url": "https://sso.city.example", "adminClient": {"secretName": "hds-api-client"},
                      "bootstrapJob": {"enabled": True}}},
    )
    assert "keycloak.bootstrapJob.enabled needs keycloak.bootstrapJob.adminSecretName" in _refusal(chart, values)


def test_given_bootstrap_job_without_any_keycloak_then_render_is_refused(chart: Chart) -> None:
    values = merged(MINIMAL_PRODUCTION, {"keycloak": {"bootstrapJob": {"enabled": True, "adminSecretName": "x"}}})
    assert "keycloak.bootstrapJob.enabled needs keycloak.url or keycloak.deploy.enabled" in _refusal(chart, values)


def test_given_development_without_key_secret_then_render_succeeds_with_no_key_wired(chart: Chart) -> None:
    values = {"env": "development", "kafka": {"bootstrap": "kafka:9092"}}
    release = render(chart, values)
    env = env_of(container(release.get("Deployment", "city-hds-gateway"), "gateway"))
    assert env["HDS_ENV"]["value"] == "development"
    assert "HDS_DEID_KEYS" not in env


def test_refusal_messages_name_values_never_secret_contents(chart: Chart) -> None:
    secret_looking = "s3cr3t-value-that-must-not-leak-0123456789"
    values = merged(MINIMAL_PRODUCTION, {"deid": {"keySecret": {"name": ""}}, "gateway": {"extraEnv": [{"name": "X", "value": secret_looking}]}})
    assert secret_looking not in _refusal(chart, values)
