"""One typed settings object for every service, built from the environment by the CLI (never at import time)."""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

# The one place the default policies directory is computed (the `policies/` package itself); every other default
# (profiles, feed registry, dataset tiers) derives from it. HDS_POLICIES_DIR overrides it.
DEFAULT_POLICIES_DIR = Path(__file__).resolve().parent

# The development pseudonymisation key: fine for synthetic data on one machine, refused in production.
DEV_DEID_KEY = "hds-development-key-not-for-real-data"


# Purposes of the keys derived from a secret; a new purpose (or version) gives an unrelated key.
RECORD_ID_PURPOSE = b"hds-record-id-v1"
SANDBOX_DIGEST_PURPOSE = b"hds-sandbox-digest-v1"


def derive_key(secret: str, purpose: bytes) -> bytes:
    """The one key derivation of the data space: HMAC-SHA256 of `purpose` under `secret` (32 bytes)."""
    return hmac.new(secret.encode("utf-8"), purpose, hashlib.sha256).digest()


class SettingsError(ValueError):
    """A setting is missing or unsafe; the message names the variable, never a secret."""


@dataclass(frozen=True)
class Settings:
    env: str = "development"
    kafka_bootstrap: str | None = None
    data_dir: Path = Path(".hds")
    catalog_db: Path | None = None
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    policies_dir: Path = DEFAULT_POLICIES_DIR
    deid_keys: dict[str, str] = field(default_factory=lambda: {"dev": DEV_DEID_KEY}, repr=False)
    deid_key_id: str = "dev"
    sandbox_key_secret: str | None = field(default=None, repr=False)  # HDS_SANDBOX_KEY
    gateway_group: str = "hds-gateway"
    gateway_assignment: str = "auto"
    gateway_metrics_port: int | None = None  # /health/live, /health/ready and /metrics of `hds gateway` (off when unset)
    gateway_metrics_host: str = "127.0.0.1"  # where they listen (a container sets 0.0.0.0 for its probes)
    gateway_instance_id: str | None = None  # static group membership (group mode): e.g. the pod name
    loader_group: str = "hds-catalog-loader"
    kafka_session_timeout_ms: int = 6000
    kafka_security_protocol: str = "PLAINTEXT"
    kafka_sasl_mechanism: str | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: str | None = field(default=None, repr=False)
    kafka_ssl_cafile: str | None = None
    oidc_issuer: str | None = None
    oidc_audience: str = "hds-api"
    keycloak_url: str | None = None
    keycloak_realm: str = "hds"
    keycloak_admin_client_id: str | None = None
    keycloak_admin_client_secret: str | None = field(default=None, repr=False)
    query_timeout_s: float = 30.0
    query_memory_limit: str = "1GB"
    query_max_rows: int = 10_000

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def db_path(self) -> Path:
        return self.catalog_db or (self.data_dir / "catalog.duckdb")

    @property
    def profiles_dir(self) -> Path:
        return self.policies_dir / "deid"

    @property
    def feeds_file(self) -> Path:
        return self.policies_dir / "feeds.yaml"

    @property
    def datasets_file(self) -> Path:
        return self.policies_dir / "datasets.yaml"

    def kafka_security(self) -> dict[str, object]:
        """TLS/SASL options for kafka-python clients (empty for a plaintext broker such as the embedded one)."""
        opts: dict[str, object] = {}
        if self.kafka_security_protocol != "PLAINTEXT":
            opts["security_protocol"] = self.kafka_security_protocol
        if self.kafka_sasl_mechanism:
            opts.update(sasl_mechanism=self.kafka_sasl_mechanism, sasl_plain_username=self.kafka_sasl_username,
                        sasl_plain_password=self.kafka_sasl_password)
        if self.kafka_ssl_cafile:
            opts["ssl_cafile"] = self.kafka_ssl_cafile
        return opts

    def sandbox_key(self) -> bytes:
        """Key for the query sandbox's patient digests (differencing history): HDS_SANDBOX_KEY, or else derived
        from the current pseudonymisation key for a separate purpose."""
        if self.sandbox_key_secret:
            secret = self.sandbox_key_secret
        elif self.deid_keys:
            secret = self.deid_keys[self.deid_key_id]
        else:
            raise SettingsError("HDS_SANDBOX_KEY must be set for the catalog when it has no pseudonymisation key")
        return derive_key(secret, SANDBOX_DIGEST_PURPOSE)

    def record_id_key(self) -> bytes:
        """Key for record ids: derived from the current pseudonymisation key (separate purpose, same secret)."""
        return derive_key(self.deid_keys[self.deid_key_id], RECORD_ID_PURPOSE)

    def with_(self, **changes: object) -> "Settings":
        return replace(self, **changes)  # type: ignore[arg-type]

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, *, need_deid_keys: bool = True) -> "Settings":
        """`need_deid_keys=False` for processes that never pseudonymise (the catalog, admin commands): in
        production they run without the pseudonymisation keys (least privilege); the catalog then needs
        HDS_SANDBOX_KEY for its query sandbox."""
        e = dict(os.environ if environ is None else environ)
        env = e.get("HDS_ENV", "development").strip().lower()
        if env not in {"development", "test", "production"}:
            raise SettingsError("HDS_ENV must be one of development, test, production")
        keys = _parse_keys(e.get("HDS_DEID_KEYS"), e.get("HDS_DEID_KEY"))
        key_id = e.get("HDS_DEID_KEY_ID") or (next(iter(keys)) if keys else "dev")
        if not keys:
            if env == "production" and need_deid_keys:
                raise SettingsError("HDS_DEID_KEY (or HDS_DEID_KEYS) must be set when HDS_ENV=production")
            if env != "production":
                keys = {"dev": DEV_DEID_KEY}
            key_id = "dev"
        sandbox = e.get("HDS_SANDBOX_KEY") or None
        if env == "production" and sandbox is not None and len(sandbox) < 32:
            raise SettingsError("HDS_SANDBOX_KEY must be at least 32 characters in production")
        if keys and key_id not in keys:
            raise SettingsError("HDS_DEID_KEY_ID names a key that HDS_DEID_KEYS does not define")
        if env == "production" and any(v == DEV_DEID_KEY or len(v) < 32 for v in keys.values()):
            raise SettingsError("pseudonymisation keys must be at least 32 characters and not the development key in production")
        data_dir = Path(e.get("HDS_DATA_DIR", ".hds"))
        return cls(
            env=env,
            kafka_bootstrap=e.get("HDS_KAFKA_BOOTSTRAP") or None,
            data_dir=data_dir,
            catalog_db=Path(e["HDS_CATALOG_DB"]) if e.get("HDS_CATALOG_DB") else None,
            api_host=e.get("HDS_API_HOST", "127.0.0.1"),
            api_port=_int(e, "HDS_API_PORT", 8000),
            policies_dir=Path(e.get("HDS_POLICIES_DIR", str(DEFAULT_POLICIES_DIR))),
            deid_keys=keys,
            deid_key_id=key_id,
            sandbox_key_secret=sandbox,
            gateway_group=e.get("HDS_GATEWAY_GROUP", "hds-gateway"),
            loader_group=e.get("HDS_LOADER_GROUP", "hds-catalog-loader"),
            gateway_metrics_port=_int(e, "HDS_GATEWAY_METRICS_PORT", 0) or None,
            gateway_metrics_host=e.get("HDS_GATEWAY_METRICS_HOST") or "127.0.0.1",
            gateway_instance_id=e.get("HDS_GATEWAY_INSTANCE_ID") or None,
            gateway_assignment=_choice(e, "HDS_GATEWAY_ASSIGNMENT", ("auto", "group", "static"), "auto"),
            kafka_session_timeout_ms=_int(e, "HDS_KAFKA_SESSION_TIMEOUT_MS", 6000),
            **_kafka_security(e, env),
            oidc_issuer=e.get("HDS_OIDC_ISSUER") or None,
            oidc_audience=e.get("HDS_OIDC_AUDIENCE", "hds-api"),
            keycloak_url=e.get("HDS_KEYCLOAK_URL") or None,
            keycloak_realm=e.get("HDS_KEYCLOAK_REALM", "hds"),
            keycloak_admin_client_id=e.get("HDS_KEYCLOAK_ADMIN_CLIENT_ID") or None,
            keycloak_admin_client_secret=e.get("HDS_KEYCLOAK_ADMIN_CLIENT_SECRET") or None,
            query_timeout_s=float(e.get("HDS_QUERY_TIMEOUT_S", "30")),
            query_memory_limit=e.get("HDS_QUERY_MEMORY_LIMIT", "1GB"),
            query_max_rows=_int(e, "HDS_QUERY_MAX_ROWS", 10_000),
        )


def _kafka_security(e: dict[str, str], env: str) -> dict[str, object]:
    protocol = _choice(e, "HDS_KAFKA_SECURITY_PROTOCOL", ("plaintext", "ssl", "sasl_plaintext", "sasl_ssl"),
                       "plaintext").upper()
    mechanism = e.get("HDS_KAFKA_SASL_MECHANISM") or None
    if protocol.startswith("SASL"):
        if mechanism not in {"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}:
            raise SettingsError("HDS_KAFKA_SASL_MECHANISM must be PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 with SASL")
        if not e.get("HDS_KAFKA_SASL_USERNAME") or not e.get("HDS_KAFKA_SASL_PASSWORD"):
            raise SettingsError("HDS_KAFKA_SASL_USERNAME and HDS_KAFKA_SASL_PASSWORD are required with SASL")
    elif mechanism:
        raise SettingsError("HDS_KAFKA_SASL_MECHANISM needs HDS_KAFKA_SECURITY_PROTOCOL=SASL_SSL or SASL_PLAINTEXT")
    if env == "production" and protocol == "SASL_PLAINTEXT" and mechanism == "PLAIN":
        raise SettingsError("SASL PLAIN without TLS sends passwords in clear text: use SASL_SSL in production")
    cafile = e.get("HDS_KAFKA_SSL_CAFILE") or None
    if cafile and not Path(cafile).is_file():
        raise SettingsError("HDS_KAFKA_SSL_CAFILE does not name a readable file")
    return {
        "kafka_security_protocol": protocol,
        "kafka_sasl_mechanism": mechanism if protocol.startswith("SASL") else None,
        "kafka_sasl_username": e.get("HDS_KAFKA_SASL_USERNAME") or None,
        "kafka_sasl_password": e.get("HDS_KAFKA_SASL_PASSWORD") or None,
        "kafka_ssl_cafile": cafile,
    }


def _choice(e: dict[str, str], name: str, choices: tuple[str, ...], default: str) -> str:
    value = (e.get(name) or default).strip().lower()
    if value not in choices:
        raise SettingsError(f"{name} must be one of: " + ", ".join(choices))
    return value


def _int(e: dict[str, str], name: str, default: int) -> int:
    raw = e.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer") from None


def _parse_keys(many: str | None, single: str | None) -> dict[str, str]:
    """HDS_DEID_KEYS="k2:secret2,k1:secret1" (first is current unless HDS_DEID_KEY_ID says otherwise)."""
    keys: dict[str, str] = {}
    if many:
        for item in many.split(","):
            item = item.strip()
            if not item:
                continue
            kid, sep, secret = item.partition(":")
            if not sep or not kid or not secret:
                raise SettingsError("HDS_DEID_KEYS must look like 'keyid:secret,keyid:secret'")
            keys[kid.strip()] = secret.strip()
    elif single:
        keys["k1"] = single
    return keys
