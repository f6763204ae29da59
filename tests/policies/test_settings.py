from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policies.settings import DEV_DEID_KEY, Settings, SettingsError

KEY = "k" * 40


def test_given_no_environment_then_development_defaults_apply() -> None:
    s = Settings.from_env({})
    assert s.env == "development" and s.deid_keys == {"dev": DEV_DEID_KEY} and s.kafka_security() == {}
    assert s.db_path == Path(".hds/catalog.duckdb")


@pytest.mark.parametrize(("env", "message"), [
    ({"HDS_ENV": "production"}, "HDS_DEID_KEY"),
    ({"HDS_ENV": "production", "HDS_DEID_KEY": "short"}, "at least 32"),
    ({"HDS_ENV": "production", "HDS_DEID_KEY": DEV_DEID_KEY}, "development key"),
    ({"HDS_ENV": "staging"}, "HDS_ENV"),
    ({"HDS_API_PORT": "eighty"}, "HDS_API_PORT"),
    ({"HDS_DEID_KEYS": "k1:" + KEY, "HDS_DEID_KEY_ID": "k9"}, "HDS_DEID_KEY_ID"),
    ({"HDS_DEID_KEYS": "nocolon"}, "HDS_DEID_KEYS"),
    ({"HDS_GATEWAY_ASSIGNMENT": "random"}, "HDS_GATEWAY_ASSIGNMENT"),
    ({"HDS_KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}, "HDS_KAFKA_SASL_MECHANISM"),
    ({"HDS_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "HDS_KAFKA_SASL_MECHANISM": "PLAIN"}, "USERNAME"),
    ({"HDS_KAFKA_SASL_MECHANISM": "PLAIN"}, "HDS_KAFKA_SECURITY_PROTOCOL"),
    ({"HDS_KAFKA_SSL_CAFILE": "/nonexistent/ca.pem"}, "HDS_KAFKA_SSL_CAFILE"),
    ({"HDS_ENV": "production", "HDS_DEID_KEY": KEY, "HDS_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
      "HDS_KAFKA_SASL_MECHANISM": "PLAIN", "HDS_KAFKA_SASL_USERNAME": "gw", "HDS_KAFKA_SASL_PASSWORD": "pw"}, "SASL_SSL"),
])
def test_given_bad_settings_then_start_up_fails_naming_the_variable_not_the_value(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as e:
        Settings.from_env(env)
    assert message in str(e.value)
    for secret in (KEY, DEV_DEID_KEY, "pw"):
        if secret in env.values():
            assert secret not in str(e.value)


def test_given_key_rotation_then_the_current_key_is_chosen_and_old_ones_kept() -> None:
    s = Settings.from_env({"HDS_DEID_KEYS": f"k2:{KEY}2,k1:{KEY}1"})
    assert s.deid_key_id == "k2" and set(s.deid_keys) == {"k1", "k2"}
    assert Settings.from_env({"HDS_DEID_KEYS": f"k2:{KEY}2,k1:{KEY}1", "HDS_DEID_KEY_ID": "k1"}).deid_key_id == "k1"


def test_given_sasl_ssl_then_clients_get_tls_and_sasl_options(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    s = Settings.from_env({"HDS_KAFKA_SECURITY_PROTOCOL": "sasl_ssl", "HDS_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
                           "HDS_KAFKA_SASL_USERNAME": "gateway", "HDS_KAFKA_SASL_PASSWORD": "s3cret-pw",
                           "HDS_KAFKA_SSL_CAFILE": str(ca)})
    assert s.kafka_security() == {"security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512",
                                  "sasl_plain_username": "gateway", "sasl_plain_password": "s3cret-pw",
                                  "ssl_cafile": str(ca)}


def test_given_settings_then_their_repr_carries_no_secret() -> None:
    s = Settings.from_env({"HDS_DEID_KEY": KEY, "HDS_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
                           "HDS_KAFKA_SASL_MECHANISM": "PLAIN", "HDS_KAFKA_SASL_USERNAME": "u",
                           "HDS_KAFKA_SASL_PASSWORD": "pw-secret-value", "HDS_KEYCLOAK_ADMIN_CLIENT_SECRET": "kc-secret",
                           "HDS_SANDBOX_KEY": "sandbox-secret-value-0123456789-abcdef"})
    text = repr(s)
    assert KEY not in text and "pw-secret-value" not in text and "kc-secret" not in text
    assert "sandbox-secret-value" not in text


def test_given_a_catalog_in_production_then_it_runs_without_pseudonymisation_keys_but_needs_a_sandbox_key() -> None:
    s = Settings.from_env({"HDS_ENV": "production", "HDS_SANDBOX_KEY": "s" * 40}, need_deid_keys=False)
    assert s.deid_keys == {} and len(s.sandbox_key()) == 32
    keyless = Settings.from_env({"HDS_ENV": "production"}, need_deid_keys=False)
    with pytest.raises(SettingsError) as e:
        keyless.sandbox_key()
    assert "HDS_SANDBOX_KEY" in str(e.value)
    with pytest.raises(SettingsError):
        Settings.from_env({"HDS_ENV": "production", "HDS_SANDBOX_KEY": "short"}, need_deid_keys=False)
    with pytest.raises(SettingsError):  # the gateway still needs its keys
        Settings.from_env({"HDS_ENV": "production", "HDS_SANDBOX_KEY": "s" * 40})


def test_given_no_sandbox_key_then_it_is_derived_from_the_pseudonymisation_key_for_another_purpose() -> None:
    s = Settings.from_env({"HDS_DEID_KEY": KEY})
    assert s.sandbox_key() != KEY.encode() and s.sandbox_key() == Settings.from_env({"HDS_DEID_KEY": KEY}).sandbox_key()
    assert Settings.from_env({"HDS_DEID_KEY": KEY, "HDS_SANDBOX_KEY": "x" * 40}).sandbox_key() != s.sandbox_key()


def _independent_hmac(secret: str, message: bytes) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives import hmac as crypto_hmac

    mac = crypto_hmac.HMAC(secret.encode("utf-8"), hashes.SHA256())
    mac.update(message)
    return mac.finalize()


@given(st.text(min_size=1, max_size=64))
def test_given_a_pseudonymisation_key_then_derived_keys_are_stable_and_separate_per_purpose(secret: str) -> None:
    s = Settings(deid_keys={"k9": secret}, deid_key_id="k9")
    # The same bytes the record ids and sandbox digests have always been built from (existing ids stay valid).
    assert s.record_id_key() == _independent_hmac(secret, b"hds-record-id-v1")
    assert s.sandbox_key() == _independent_hmac(secret, b"hds-sandbox-digest-v1")
    assert s.record_id_key() != s.sandbox_key()
    assert Settings(deid_keys={"k9": secret + "x"}, deid_key_id="k9").record_id_key() != s.record_id_key()
