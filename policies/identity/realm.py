"""The realm definition: `policies/keycloak/realm-hds.json` (Keycloak's import format) parsed and validated.

The same file is what the Helm chart hands to Keycloak's `--import-realm` and what `hds keycloak bootstrap`
provisions through the admin API, so the two can never drift apart. `${NAME}` placeholders (Keycloak resolves them
from the environment at import time) are resolved here from explicit values.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from policies.principal import ROLES

REALM_EXPORT_RELATIVE = Path("keycloak") / "realm-hds.json"
_PLACEHOLDER = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")
# Fields whose unresolved placeholder means "let Keycloak generate it" rather than an error.
_GENERATED_WHEN_UNSET = frozenset({"secret"})


class RealmExportError(ValueError):
    """The realm export is malformed; the message names the file and the field."""


@dataclass(frozen=True)
class RealmSpec:
    source: Path
    document: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.document["realm"])

    @property
    def realm_roles(self) -> list[dict[str, Any]]:
        return list(self.document["roles"]["realm"])

    @property
    def clients(self) -> list[dict[str, Any]]:
        return list(self.document["clients"])

    @property
    def groups(self) -> list[dict[str, Any]]:
        return list(self.document.get("groups", []))

    @property
    def service_account_roles(self) -> dict[str, dict[str, list[str]]]:
        """clientId -> {client: [client roles]} for each service-account user in the export."""
        out: dict[str, dict[str, list[str]]] = {}
        for user in self.document.get("users", []):
            client_id = user.get("serviceAccountClientId")
            if client_id:
                out[client_id] = {k: list(v) for k, v in user.get("clientRoles", {}).items()}
        return out

    def realm_settings(self) -> dict[str, Any]:
        """Top-level scalar realm attributes (what `POST /admin/realms` needs before roles, clients, groups)."""
        return {k: v for k, v in self.document.items() if not isinstance(v, (dict, list))}

    def client(self, client_id: str) -> dict[str, Any]:
        for client in self.clients:
            if client["clientId"] == client_id:
                return client
        raise KeyError(client_id)

    def resolved(self, values: Mapping[str, str]) -> "RealmSpec":
        """A copy with `${NAME}` placeholders replaced; an unset placeholder drops generated fields (secrets)."""
        return RealmSpec(self.source, _resolve(copy.deepcopy(self.document), values, self.source, "$"))


def default_realm_export(policies_dir: Path) -> Path:
    return Path(policies_dir) / REALM_EXPORT_RELATIVE


def load_realm_export(path: Path) -> RealmSpec:
    path = Path(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError:
        raise RealmExportError(f"{path}: cannot be read") from None
    except json.JSONDecodeError as exc:
        raise RealmExportError(f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}") from None
    _validate(document, path)
    return RealmSpec(path, document)


def _fail(path: Path, field: str, reason: str) -> RealmExportError:
    return RealmExportError(f"{path}: {field}: {reason}")


def _validate(doc: Any, path: Path) -> None:
    if not isinstance(doc, dict):
        raise _fail(path, "$", "must be a JSON object (a RealmRepresentation)")
    if not isinstance(doc.get("realm"), str) or not doc["realm"]:
        raise _fail(path, "realm", "must be a non-empty string")
    if not isinstance(doc.get("enabled"), bool):
        raise _fail(path, "enabled", "must be true or false")
    roles = doc.get("roles", {}).get("realm") if isinstance(doc.get("roles"), dict) else None
    if not isinstance(roles, list) or not all(isinstance(r, dict) and isinstance(r.get("name"), str) for r in roles):
        raise _fail(path, "roles.realm", "must be a list of role objects with a name")
    missing = sorted(set(ROLES) - {r["name"] for r in roles})
    if missing:
        raise _fail(path, "roles.realm", "is missing the roles " + ", ".join(missing))
    clients = doc.get("clients")
    if not isinstance(clients, list) or not all(isinstance(c, dict) and isinstance(c.get("clientId"), str) for c in clients):
        raise _fail(path, "clients", "must be a list of client objects with a clientId")
    ids = [c["clientId"] for c in clients]
    if len(ids) != len(set(ids)):
        raise _fail(path, "clients", "clientId values must be unique")
    for i, client in enumerate(clients):
        for j, mapper in enumerate(client.get("protocolMappers", [])):
            if not isinstance(mapper, dict) or not mapper.get("name") or not mapper.get("protocolMapper"):
                raise _fail(path, f"clients[{i}].protocolMappers[{j}]", "needs name and protocolMapper")
        secret = client.get("secret")
        if secret is not None and not (isinstance(secret, str) and _PLACEHOLDER.fullmatch(secret)):
            raise _fail(path, f"clients[{i}].secret", "must be a ${PLACEHOLDER}, never a literal secret")
    _validate_groups(doc.get("groups", []), path, "groups", {r["name"] for r in roles})


def _validate_groups(groups: Any, path: Path, field: str, role_names: set[str]) -> None:
    if not isinstance(groups, list):
        raise _fail(path, field, "must be a list")
    for i, group in enumerate(groups):
        where = f"{field}[{i}]"
        if not isinstance(group, dict) or not isinstance(group.get("name"), str) or "/" in group["name"]:
            raise _fail(path, where, "needs a name without '/'")
        unknown = set(group.get("realmRoles", [])) - role_names
        if unknown:
            raise _fail(path, where + ".realmRoles", "names roles the realm does not define")
        _validate_groups(group.get("subGroups", []), path, where + ".subGroups", role_names)


def _resolve(value: Any, values: Mapping[str, str], path: Path, where: str) -> Any:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key in _GENERATED_WHEN_UNSET and isinstance(item, str):
                names = _PLACEHOLDER.findall(item)
                if names and not all(values.get(n) for n in names):
                    continue  # leave it to Keycloak to generate
            out[key] = _resolve(item, values, path, f"{where}.{key}")
        return out
    if isinstance(value, list):
        return [_resolve(item, values, path, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, str):
        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if not values.get(name):
                raise _fail(path, where, f"placeholder {name} has no value")
            return values[name]

        return _PLACEHOLDER.sub(substitute, value)
    return value
