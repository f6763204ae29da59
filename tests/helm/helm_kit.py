"""Render the chart offline (helm-python-sdk: real Helm v4 engine, no cluster) and look up manifests."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from helm_python import Chart

REPO_ROOT = Path(__file__).resolve().parents[2]
CHART_DIR = REPO_ROOT / "helm" / "hds"
DEV_VALUES = CHART_DIR / "values-dev.yaml"
RELEASE = "city"
NAMESPACE = "hds"

Manifest = dict[str, Any]


def merged(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge `override` onto a copy of `base` (dicts merge, everything else replaces)."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


@dataclass(frozen=True)
class Release:
    """The parsed manifests of one rendered release."""

    manifests: list[Manifest]
    notes: str

    def all(self, kind: str) -> list[Manifest]:
        return [m for m in self.manifests if m.get("kind") == kind]

    def get(self, kind: str, name: str) -> Manifest:
        for manifest in self.all(kind):
            if manifest["metadata"]["name"] == name:
                return manifest
        raise LookupError(f"no {kind} named {name} in the rendered release")

    def has(self, kind: str, name: str) -> bool:
        return any(m["metadata"]["name"] == name for m in self.all(kind))


def render(chart: Chart, values: dict[str, Any]) -> Release:
    rendered = chart.render(values, name=RELEASE, namespace=NAMESPACE)
    manifests: list[Manifest] = []
    notes = ""
    for path, text in sorted(rendered.items()):
        if path.endswith("NOTES.txt"):
            notes = text
            continue
        manifests.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return Release(manifests=manifests, notes=notes)


def container(workload: Manifest, name: str) -> Manifest:
    spec = workload["spec"]["template"]["spec"]
    for c in spec["containers"]:
        if c["name"] == name:
            return c
    raise LookupError(f"no container {name}")


def env_of(c: Manifest) -> dict[str, Manifest]:
    """Environment variables of a container by name (each the full EnvVar object)."""
    return {e["name"]: e for e in c.get("env", [])}


# The smallest production release: external Kafka, a key Secret and an OIDC issuer.
MINIMAL_PRODUCTION: dict[str, Any] = {
    "env": "production",
    "kafka": {"bootstrap": "kafka-0.kafka:9092,kafka-1.kafka:9092"},
    "deid": {"keySecret": {"name": "hds-deid-keys"}},
    "oidc": {"issuer": "https://id.city.example/realms/hds"},
}

# A small realm in Keycloak's import format, carried in values (keycloak.deploy.realmJson).
REALM_JSON = json.dumps({"realm": "hds", "enabled": True, "roles": {"realm": [{"name": "researcher"}]}})

# MLLP listeners for two feeds of one hospital (one of them with two replicas) on a production release.
MLLP_LISTENERS: list[dict[str, Any]] = [
    {"hospital": "st-luke", "feed": "adt"},
    {"hospital": "st-luke", "feed": "lab_csv", "port": 2576, "replicas": 2},
]
WITH_MLLP: dict[str, Any] = merged(MINIMAL_PRODUCTION, {"mllp": {"enabled": True, "listeners": MLLP_LISTENERS}})


def dev_values() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(DEV_VALUES.read_text())
    return loaded
