"""A Keycloak-compatible HTTP test server (no Keycloak can run on these machines: see STACK.md).

It implements exactly the endpoints the project and python-keycloak call, shaped after Keycloak's documented REST
API and token format:

- OIDC: `/realms/{realm}/.well-known/openid-configuration`, `/realms/{realm}/protocol/openid-connect/certs`,
  `/realms/{realm}/protocol/openid-connect/token` (password, client_credentials, refresh_token grants).
- Admin REST under `/admin/realms`: realms, realm roles, clients (+ secret, protocol mappers, service-account user,
  client roles), groups (+ children, group-by-path, members, realm role mappings, attributes), users (+ groups,
  realm and client role mappings).

Tokens are RS256 JWTs like Keycloak's access tokens (iss, aud, azp, sub, typ, preferred_username, realm_access,
resource_access, and the claims the client's protocol mappers add: user attributes, group paths, audiences).
Each realm has its own signing keys; `rotate_key` adds a new active key and `retire_key` removes one from the JWKS.
Any request to a route it does not implement is answered 404 and recorded in `unhandled`, so tests can assert that
the code under test stays inside the implemented (documented) surface.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

REALM_MANAGEMENT_ROLES = (
    "realm-admin", "manage-realm", "view-realm", "manage-users", "view-users", "query-users", "query-groups",
    "manage-clients", "view-clients", "query-clients",
)
USER_ADMIN_WRITE = "manage-users"


class ApiError(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


@dataclass
class SigningKey:
    kid: str
    private: rsa.RSAPrivateKey
    jwk: dict[str, Any]
    use: str = "sig"


def _new_key(use: str = "sig") -> SigningKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    kid = uuid.uuid4().hex
    alg = "RS256" if use == "sig" else "RSA-OAEP"
    return SigningKey(kid, private, {**jwk, "kid": kid, "use": use, "alg": alg}, use)


@dataclass
class Realm:
    name: str
    settings: dict[str, Any]
    keys: list[SigningKey] = field(default_factory=list)  # last one signs
    enc_key: SigningKey = field(default_factory=lambda: _new_key("enc"))
    roles: dict[str, dict[str, Any]] = field(default_factory=dict)
    clients: dict[str, dict[str, Any]] = field(default_factory=dict)  # internal id -> representation
    client_roles: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # internal id -> name -> role
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    groups: dict[str, dict[str, Any]] = field(default_factory=dict)

    def client_by_client_id(self, client_id: str) -> dict[str, Any] | None:
        return next((c for c in self.clients.values() if c["clientId"] == client_id), None)

    def user_by_name(self, username: str) -> dict[str, Any] | None:
        return next((u for u in self.users.values() if u["username"] == username.lower()), None)

    def group_path(self, group: dict[str, Any]) -> str:
        parts = [group["name"]]
        while group.get("parentId"):
            group = self.groups[group["parentId"]]
            parts.append(group["name"])
        return "/" + "/".join(reversed(parts))

    def children(self, parent_id: str | None) -> list[dict[str, Any]]:
        return sorted((g for g in self.groups.values() if g.get("parentId") == parent_id), key=lambda g: g["name"])


class KeycloakTestServer:
    """Start with `with KeycloakTestServer() as kc:`; `kc.url` is the server URL (no trailing slash)."""

    def __init__(self, admin_user: str = "admin", admin_password: str = "admin-test-password") -> None:
        self._lock = threading.RLock()
        self.realms: dict[str, Realm] = {}
        self.unhandled: list[str] = []
        self.requests: list[str] = []
        self.clock: Callable[[], float] = time.time
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        master = self._create_realm({"realm": "master", "enabled": True})
        self._create_user(master, {"username": admin_user, "enabled": True,
                                   "credentials": [{"type": "password", "value": admin_password}]})
        self._create_role(master, {"name": "admin", "description": "master realm administrator"})
        master.users[master.user_by_name(admin_user)["id"]]["realmRoles"].add("admin")

    # -- lifecycle ------------------------------------------------------------------------------------------
    def start(self, port: int = 0) -> "KeycloakTestServer":
        """Listen on `port` (0: a free one). `stop()` then `start(port)` plays an outage: the realms survive."""
        server = self

        class Handler(_Handler):
            kc = server

        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="keycloak-test-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> "KeycloakTestServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._httpd is not None, "server not started"
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        assert self._httpd is not None, "server not started"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def issuer(self, realm: str) -> str:
        return f"{self.url}/realms/{realm}"

    # -- test controls --------------------------------------------------------------------------------------
    def import_realm(self, document: dict[str, Any]) -> None:
        """What Keycloak's `--import-realm` does with a RealmRepresentation (roles, clients, groups, users)."""
        with self._lock:
            self._import(document)

    def rotate_key(self, realm: str) -> str:
        """Add a new active signing key (the old one stays published until retired); returns its kid."""
        with self._lock:
            key = _new_key()
            self.realms[realm].keys.append(key)
            return key.kid

    def retire_key(self, realm: str, kid: str) -> None:
        with self._lock:
            self.realms[realm].keys = [k for k in self.realms[realm].keys if k.kid != kid]

    def active_kid(self, realm: str) -> str:
        return self.realms[realm].keys[-1].kid

    def sign(self, realm: str, claims: dict[str, Any], kid: str | None = None) -> str:
        """Sign arbitrary claims with one of the realm's keys (for negative tests)."""
        keys = {k.kid: k for k in self.realms[realm].keys}
        key = keys[kid] if kid else self.realms[realm].keys[-1]
        return jwt.encode(claims, key.private, algorithm="RS256", headers={"kid": key.kid, "typ": "JWT"})

    def group_members(self, realm: str, path: str) -> set[str]:
        with self._lock:
            r = self.realms[realm]
            group = next((g for g in r.groups.values() if r.group_path(g) == path), None)
            if group is None:
                return set()
            return {u["username"] for u in r.users.values() if group["id"] in u["groups"]}

    # -- model ----------------------------------------------------------------------------------------------
    def _create_realm(self, payload: dict[str, Any]) -> Realm:
        name = payload.get("realm")
        if not isinstance(name, str) or not name:
            raise ApiError(400, {"errorMessage": "Realm name cannot be empty"})
        if name in self.realms:
            raise ApiError(409, {"errorMessage": "Conflict detected. See logs for details"})
        settings = {k: v for k, v in payload.items() if not isinstance(v, (dict, list))}
        realm = Realm(name=name, settings={"id": name, "enabled": True, "accessTokenLifespan": 300, **settings})
        realm.keys.append(_new_key())
        self.realms[name] = realm
        self._create_role(realm, {"name": "offline_access", "description": "${role_offline-access}"})
        self._create_role(realm, {"name": f"default-roles-{name}", "description": "${role_default-roles}"})
        rm = self._create_client(realm, {"clientId": "realm-management", "bearerOnly": True, "publicClient": False})
        for role in REALM_MANAGEMENT_ROLES:
            self._create_client_role(realm, rm, role)
        self._create_client(realm, {"clientId": "admin-cli", "publicClient": True, "directAccessGrantsEnabled": True})
        self._create_client(realm, {"clientId": "account", "publicClient": True})
        return realm

    def _import(self, doc: dict[str, Any]) -> Realm:
        realm = self._create_realm(doc)
        for role in doc.get("roles", {}).get("realm", []):
            if role["name"] not in realm.roles:
                self._create_role(realm, role)
        for client in doc.get("clients", []):
            self._create_client(realm, client)
        for group in doc.get("groups", []):
            self._import_group(realm, group, None)
        for user in doc.get("users", []):
            sa_client = user.get("serviceAccountClientId")
            if sa_client:
                target = self._service_account(realm, realm.client_by_client_id(sa_client)["id"])
            else:
                target = self._create_user(realm, user)
            for client_id, names in user.get("clientRoles", {}).items():
                internal = realm.client_by_client_id(client_id)["id"]
                target["clientRoles"].setdefault(internal, set()).update(names)
            target["realmRoles"].update(user.get("realmRoles", []))
        return realm

    def _import_group(self, realm: Realm, group: dict[str, Any], parent: str | None) -> None:
        created = self._create_group(realm, {"name": group["name"], "attributes": group.get("attributes", {})}, parent)
        created["realmRoles"].update(group.get("realmRoles", []))
        for child in group.get("subGroups", []):
            self._import_group(realm, child, created["id"])

    def _create_role(self, realm: Realm, payload: dict[str, Any]) -> dict[str, Any]:
        name = payload.get("name")
        if not name:
            raise ApiError(400, {"errorMessage": "Role name is missing"})
        if name in realm.roles:
            raise ApiError(409, {"errorMessage": f"Role with name {name} already exists"})
        role = {"id": str(uuid.uuid4()), "name": name, "description": payload.get("description", ""),
                "composite": False, "clientRole": False, "containerId": realm.name}
        realm.roles[name] = role
        return role

    def _create_client(self, realm: Realm, payload: dict[str, Any]) -> str:
        client_id = payload.get("clientId")
        if not client_id:
            raise ApiError(400, {"errorMessage": "clientId is missing"})
        if realm.client_by_client_id(client_id):
            raise ApiError(409, {"errorMessage": f"Client {client_id} already exists"})
        internal = str(uuid.uuid4())
        rep: dict[str, Any] = {
            "id": internal, "enabled": True, "protocol": "openid-connect", "publicClient": False, "bearerOnly": False,
            "standardFlowEnabled": True, "implicitFlowEnabled": False, "directAccessGrantsEnabled": False,
            "serviceAccountsEnabled": False, "clientAuthenticatorType": "client-secret", "redirectUris": [],
            "webOrigins": [], "attributes": {}, "fullScopeAllowed": True,
            **{k: v for k, v in payload.items() if k not in ("id", "protocolMappers")},
        }
        if not rep["publicClient"] and not rep.get("secret"):
            rep["secret"] = uuid.uuid4().hex
        rep["protocolMappers"] = []
        realm.clients[internal] = rep
        realm.client_roles[internal] = {}
        for mapper in payload.get("protocolMappers", []):
            self._add_mapper(realm, internal, mapper)
        if rep["serviceAccountsEnabled"]:
            self._service_account(realm, internal)
        return internal

    def _add_mapper(self, realm: Realm, client: str, payload: dict[str, Any]) -> None:
        mappers = realm.clients[client]["protocolMappers"]
        if any(m["name"] == payload.get("name") for m in mappers):
            raise ApiError(409, {"errorMessage": "Protocol mapper exists with same name"})
        mappers.append({"id": str(uuid.uuid4()), "protocol": "openid-connect", "config": {}, **payload})

    def _create_client_role(self, realm: Realm, client: str, name: str) -> None:
        realm.client_roles[client][name] = {"id": str(uuid.uuid4()), "name": name, "description": "",
                                            "composite": False, "clientRole": True, "containerId": client}

    def _service_account(self, realm: Realm, client: str) -> dict[str, Any]:
        for user in realm.users.values():
            if user.get("serviceAccountClientId") == realm.clients[client]["clientId"]:
                return user
        user = self._create_user(realm, {"username": f"service-account-{realm.clients[client]['clientId']}",
                                         "enabled": True})
        user["serviceAccountClientId"] = realm.clients[client]["clientId"]
        return user

    def _create_user(self, realm: Realm, payload: dict[str, Any]) -> dict[str, Any]:
        username = str(payload.get("username") or "").lower()
        if not username:
            raise ApiError(400, {"errorMessage": "User name is missing"})
        if realm.user_by_name(username):
            raise ApiError(409, {"errorMessage": "User exists with same username"})
        password = next((c.get("value") for c in payload.get("credentials", []) if c.get("type") == "password"), None)
        user = {
            "id": str(uuid.uuid4()), "username": username, "enabled": payload.get("enabled", True),
            "emailVerified": False, "createdTimestamp": int(self.clock() * 1000),
            "attributes": {k: list(v) if isinstance(v, list) else [v] for k, v in payload.get("attributes", {}).items()},
            "password": password, "realmRoles": set(payload.get("realmRoles", [])), "clientRoles": {},
            "groups": set(),
        }
        for key in ("firstName", "lastName", "email"):
            if key in payload:
                user[key] = payload[key]
        realm.users[user["id"]] = user
        return user

    def _create_group(self, realm: Realm, payload: dict[str, Any], parent: str | None) -> dict[str, Any]:
        name = payload.get("name")
        if not name or "/" in name:
            raise ApiError(400, {"errorMessage": "Group name is missing or invalid"})
        if any(g["name"] == name for g in realm.children(parent)):
            raise ApiError(409, {"errorMessage": f"Top level group named '{name}' already exists."})
        group = {"id": str(uuid.uuid4()), "name": name, "parentId": parent,
                 "attributes": dict(payload.get("attributes") or {}), "realmRoles": set()}
        realm.groups[group["id"]] = group
        return group

    # -- representations ------------------------------------------------------------------------------------
    def _group_rep(self, realm: Realm, group: dict[str, Any], brief: bool) -> dict[str, Any]:
        rep: dict[str, Any] = {"id": group["id"], "name": group["name"], "path": realm.group_path(group),
                               "subGroupCount": len(realm.children(group["id"])), "subGroups": []}
        if group.get("parentId"):
            rep["parentId"] = group["parentId"]
        if not brief:
            rep.update({"attributes": group["attributes"], "realmRoles": sorted(group["realmRoles"]),
                        "clientRoles": {}, "access": {"view": True, "manage": True, "manageMembership": True}})
        return rep

    @staticmethod
    def _user_rep(user: dict[str, Any]) -> dict[str, Any]:
        hidden = {"password", "realmRoles", "clientRoles", "groups"}
        return {k: v for k, v in user.items() if k not in hidden}

    # -- tokens ---------------------------------------------------------------------------------------------
    def _effective_realm_roles(self, realm: Realm, user: dict[str, Any]) -> set[str]:
        roles = set(user["realmRoles"]) | {"offline_access", f"default-roles-{realm.name}"}
        for gid in user["groups"]:
            group: dict[str, Any] | None = realm.groups.get(gid)
            while group is not None:  # members inherit the role mappings of ancestor groups
                roles |= group["realmRoles"]
                group = realm.groups.get(group["parentId"]) if group.get("parentId") else None
        return roles

    def _issue(self, realm: Realm, client: dict[str, Any], user: dict[str, Any]) -> dict[str, Any]:
        now = int(self.clock())
        lifespan = int(client.get("attributes", {}).get("access.token.lifespan") or realm.settings["accessTokenLifespan"])
        resource_access: dict[str, Any] = {}
        for internal, names in user["clientRoles"].items():
            if names:
                resource_access[realm.clients[internal]["clientId"]] = {"roles": sorted(names)}
        audiences = [c for c in resource_access if c != client["clientId"]]
        session = str(uuid.uuid4())
        claims: dict[str, Any] = {
            "exp": now + lifespan, "iat": now, "jti": str(uuid.uuid4()), "iss": self.issuer(realm.name),
            "sub": user["id"], "typ": "Bearer", "azp": client["clientId"], "sid": session,
            "realm_access": {"roles": sorted(self._effective_realm_roles(realm, user))},
            "scope": "openid profile email", "email_verified": user.get("emailVerified", False),
            "preferred_username": user["username"],
        }
        if resource_access:
            claims["resource_access"] = resource_access
        for mapper in client.get("protocolMappers", []):
            config = mapper.get("config", {})
            if config.get("access.token.claim", "true") != "true":
                continue
            kind = mapper.get("protocolMapper")
            if kind == "oidc-usermodel-attribute-mapper":
                values = user["attributes"].get(config.get("user.attribute"), [])
                if values:
                    claims[config["claim.name"]] = values if config.get("multivalued") == "true" else values[0]
            elif kind == "oidc-group-membership-mapper":
                paths = [realm.group_path(realm.groups[g]) for g in sorted(user["groups"])]
                full = config.get("full.path", "true") == "true"
                claims[config.get("claim.name", "groups")] = sorted(p if full else p.rsplit("/", 1)[-1] for p in paths)
            elif kind == "oidc-audience-mapper":
                audiences.append(config["included.client.audience"])
        if audiences:
            claims["aud"] = audiences[0] if len(audiences) == 1 else sorted(set(audiences))
        key = realm.keys[-1]
        access = jwt.encode(claims, key.private, algorithm="RS256", headers={"kid": key.kid, "typ": "JWT"})
        body: dict[str, Any] = {"access_token": access, "expires_in": lifespan, "token_type": "Bearer",
                                "not-before-policy": 0, "session_state": session, "scope": claims["scope"],
                                "refresh_expires_in": 0}
        if not user.get("serviceAccountClientId"):
            refresh = {"exp": now + 1800, "iat": now, "jti": str(uuid.uuid4()), "iss": self.issuer(realm.name),
                       "aud": self.issuer(realm.name), "sub": user["id"], "typ": "Refresh", "azp": client["clientId"],
                       "sid": session}
            body["refresh_token"] = jwt.encode(refresh, key.private, algorithm="RS256", headers={"kid": key.kid})
            body["refresh_expires_in"] = 1800
        return body

    def _decode(self, realm: Realm, token: str) -> dict[str, Any]:
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            key = next(k for k in realm.keys if k.kid == kid)
            return jwt.decode(token, key.private.public_key(), algorithms=["RS256"], options={"verify_aud": False},
                              issuer=self.issuer(realm.name))
        except (jwt.PyJWTError, StopIteration):
            raise ApiError(401, {"error": "HTTP 401 Unauthorized"}) from None

    def token_endpoint(self, realm_name: str, form: dict[str, str]) -> dict[str, Any]:
        realm = self._realm(realm_name)
        client = realm.client_by_client_id(form.get("client_id", ""))
        if client is None or not client.get("enabled", True) or client.get("bearerOnly"):
            raise ApiError(401, {"error": "invalid_client", "error_description": "Invalid client or Invalid client credentials"})
        if not client.get("publicClient") and form.get("client_secret") != client.get("secret"):
            raise ApiError(401, {"error": "unauthorized_client", "error_description": "Invalid client or Invalid client credentials"})
        grant = form.get("grant_type")
        if grant == "password":
            if not client.get("directAccessGrantsEnabled"):
                raise ApiError(400, {"error": "unauthorized_client", "error_description": "Client not allowed for direct access grants"})
            user = realm.user_by_name(form.get("username", ""))
            if user is None or not user.get("password") or user["password"] != form.get("password") or not user["enabled"]:
                raise ApiError(401, {"error": "invalid_grant", "error_description": "Invalid user credentials"})
        elif grant == "client_credentials":
            if client.get("publicClient") or not client.get("serviceAccountsEnabled"):
                raise ApiError(401, {"error": "unauthorized_client", "error_description": "Client not enabled to retrieve service account"})
            user = self._service_account(realm, client["id"])
        elif grant == "refresh_token":
            claims = self._decode(realm, form.get("refresh_token", ""))
            if claims.get("typ") != "Refresh" or claims.get("azp") != client["clientId"]:
                raise ApiError(400, {"error": "invalid_grant", "error_description": "Invalid refresh token"})
            user = realm.users.get(claims["sub"])
            if user is None:
                raise ApiError(400, {"error": "invalid_grant", "error_description": "User not found"})
        else:
            raise ApiError(400, {"error": "unsupported_grant_type", "error_description": "Unsupported grant_type"})
        return self._issue(realm, client, user)

    def discovery(self, realm_name: str) -> dict[str, Any]:
        self._realm(realm_name)
        base = self.issuer(realm_name) + "/protocol/openid-connect"
        return {"issuer": self.issuer(realm_name), "authorization_endpoint": base + "/auth",
                "token_endpoint": base + "/token", "jwks_uri": base + "/certs", "userinfo_endpoint": base + "/userinfo",
                "grant_types_supported": ["authorization_code", "password", "client_credentials", "refresh_token"],
                "id_token_signing_alg_values_supported": ["RS256"], "code_challenge_methods_supported": ["plain", "S256"]}

    def certs(self, realm_name: str) -> dict[str, Any]:
        realm = self._realm(realm_name)
        return {"keys": [dict(k.jwk) for k in realm.keys] + [dict(realm.enc_key.jwk)]}

    def _realm(self, name: str) -> Realm:
        realm = self.realms.get(name)
        if realm is None:
            raise ApiError(404, {"error": "Realm does not exist"})
        return realm

    # -- admin authorisation --------------------------------------------------------------------------------
    def authorize_admin(self, header: str, realm_name: str | None, method: str, resource: str) -> None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise ApiError(401, {"error": "HTTP 401 Unauthorized"})
        try:
            iss = jwt.decode(token, options={"verify_signature": False}).get("iss", "")
        except jwt.PyJWTError:
            raise ApiError(401, {"error": "HTTP 401 Unauthorized"}) from None
        token_realm = iss.rsplit("/realms/", 1)[-1]
        if token_realm not in self.realms or iss != self.issuer(token_realm):
            raise ApiError(401, {"error": "HTTP 401 Unauthorized"})
        claims = self._decode(self.realms[token_realm], token)
        if claims.get("typ") != "Bearer" or claims["exp"] < self.clock():
            raise ApiError(401, {"error": "HTTP 401 Unauthorized"})
        if token_realm == "master" and "admin" in claims.get("realm_access", {}).get("roles", []):
            return
        if realm_name != token_realm:
            raise ApiError(403, {"error": "HTTP 403 Forbidden"})
        held = set(claims.get("resource_access", {}).get("realm-management", {}).get("roles", []))
        if "realm-admin" in held:
            return
        if method == "GET" and held:
            return
        needed = {"users": {"manage-users"}, "groups": {"manage-users"}}.get(resource, {"manage-realm", "manage-clients"})
        if not held & needed:
            raise ApiError(403, {"error": "HTTP 403 Forbidden"})


def _page(items: list[Any], query: dict[str, str]) -> list[Any]:
    first = int(query.get("first", 0))
    size = int(query.get("max", 100))
    return items[first:first + size]


def _truthy(value: str | None) -> bool:
    return (value or "").lower() == "true"


_ADMIN_ROUTES: list[tuple[str, str, str]] = [
    # (method, pattern, handler name)
    ("GET", r"/admin/realms", "list_realms"),
    ("POST", r"/admin/realms", "create_realm"),
    ("GET", r"/admin/realms/(?P<realm>[^/]+)", "get_realm"),
    ("GET", r"/admin/realms/(?P<realm>[^/]+)/roles", "list_roles"),
    ("POST", r"/admin/realms/(?P<realm>[^/]+)/roles", "create_role"),
    ("GET", r"/admin/realms/(?P<realm>[^/]+)/roles/(?P<name>[^/]+)", "get_role"),
    ("GET", r"/admin/realms/(?P<realm>[^/]+)/clients", "list_clients"),
    ("POST", r"/admin/realms/(?P<realm>[^/]+)/clients", "create_client"),
    ("GET", r"/admin/realms/(?P<realm>[^/]+)/clients/(?P<id>[^/]+)", "get_client"),
    ("PUT", r"/admin/realms/(?P<realm>[^/]+)/clients/(?P<id>[^/]+)", "update_client"),
    ("GET", r"/admin/realms/(?P<realm>[^/]+)/clients/(?P<id>[^/]+)/client-secret", "client_secret"),
    ("GET", r"/admin/realms/(?P<realm>[^/]+)/clients/(?P<id>[^/]+)/protocol-mappers/models", "list_mappers"),
    ("POST", r"/admin/realms/(?P<realm>[^/]+)/clients/(?P<id>[^/]+)/protocol-mappers/models", "add_mapper"),
    ("GET", r"/admin/realms/(?P<realm>[^/]+)/clients/(?P<id>[^/]+)/service-account-user", "service_account_user"),
    ("GET", r"/admin/realms/(?P<realm>[^/]+)/clients/(?P<id>[^/]+)/roles/(?P<name>[^/]+)", "get_client_role"),
    ("GET", r"/admin/realms/(?P<realm>[^/]+)/groups", "list_groups"),
    ("POST", r"/admin/realms/(?P<realm>[^/]+)/groups", "create_group"),
    ("GET", r"/admin/realms/(?P<realm>[^/]+)/group-by-path/(?P<path>.+)", "group_by_path"),
    ("GET", r"/admin/realms/(?P<realm>[^/]+)/groups/(?P<id>[^/]+)", "get_group"),
    ("PUT", r"/admin/realms/(?P<realm>[^/]+)/groups/(?P<id>[^/]+)", "update_group"),
    ("DELETE", r"/admin/realms/(?P<realm>[^/]+)/groups/(?P<id>[^/]+)", "delete_group"),
    ("GET", r"/admin/realms/(?P<realm>[^/]+)/groups/(?P<id>[^/]+)/children", "list_children"),
    ("POST", r"/admin/realms/(?P<realm>[^/]+)/groups/(?P<id>[^/]+)/children", "create_child"),
    ("GET", r"/admin/realms/(?P<realm>[^/]+)/groups/(?P<id>[^/]+)/members", "group_members"),
    ("GET", r"/admin/realms/(?P<realm>[^/]+)/groups/(?P<id>[^/]+)/role-mappings/realm", "group_roles"),
    ("POST", r"/admin/realms/(?P<realm>[^/]+)/groups/(?P<id>[^/]+)/role-mappings/realm", "add_group_roles"),
    ("GET", r"/admin/realms/(?P<realm>[^/]+)/users", "list_users"),
    ("POST", r"/admin/realms/(?P<realm>[^/]+)/users", "create_user"),
    ("GET", r"/admin/realms/(?P<realm>[^/]+)/users/(?P<id>[^/]+)", "get_user"),
    ("GET", r"/admin/realms/(?P<realm>[^/]+)/users/(?P<id>[^/]+)/groups", "user_groups"),
    ("PUT", r"/admin/realms/(?P<realm>[^/]+)/users/(?P<id>[^/]+)/groups/(?P<gid>[^/]+)", "join_group"),
    ("DELETE", r"/admin/realms/(?P<realm>[^/]+)/users/(?P<id>[^/]+)/groups/(?P<gid>[^/]+)", "leave_group"),
    ("POST", r"/admin/realms/(?P<realm>[^/]+)/users/(?P<id>[^/]+)/role-mappings/realm", "add_user_realm_roles"),
    ("GET", r"/admin/realms/(?P<realm>[^/]+)/users/(?P<id>[^/]+)/role-mappings/clients/(?P<cid>[^/]+)", "user_client_roles"),
    ("POST", r"/admin/realms/(?P<realm>[^/]+)/users/(?P<id>[^/]+)/role-mappings/clients/(?P<cid>[^/]+)", "add_user_client_roles"),
]
_COMPILED = [(m, re.compile(p + r"/?$"), h) for m, p, h in _ADMIN_ROUTES]
_RESOURCE = re.compile(r"/admin/realms/[^/]+/(users|groups|group-by-path|clients|roles)")


class _Handler(BaseHTTPRequestHandler):
    kc: KeycloakTestServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as separate writes: avoid delayed-ACK stalls

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet (and free of tokens)
        return None

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    # -- plumbing
    def _send(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        if body is not None:
            self.send_header("Content-Type", "application/json")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _dispatch(self, method: str) -> None:
        parts = urlsplit(self.path)
        path = parts.path
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        raw = self._body()
        kc = self.kc
        try:
            with kc._lock:
                kc.requests.append(f"{method} {path}")
                status, body, headers = self._route(method, path, query, raw)
        except ApiError as exc:
            status, body, headers = exc.status, exc.body, {}
        self._send(status, body, headers)

    def _route(self, method: str, path: str, query: dict[str, str], raw: bytes) -> tuple[int, Any, dict[str, str]]:
        kc = self.kc
        m = re.fullmatch(r"/realms/([^/]+)/\.well-known/openid-configuration", path)
        if m and method == "GET":
            return 200, kc.discovery(m.group(1)), {}
        m = re.fullmatch(r"/realms/([^/]+)/protocol/openid-connect/certs", path)
        if m and method == "GET":
            return 200, kc.certs(m.group(1)), {}
        m = re.fullmatch(r"/realms/([^/]+)/protocol/openid-connect/token", path)
        if m and method == "POST":
            form = {k: v[-1] for k, v in parse_qs(raw.decode()).items()}
            return 200, kc.token_endpoint(m.group(1), form), {}
        for route_method, pattern, handler in _COMPILED:
            match = pattern.fullmatch(path)
            if match and route_method == method:
                params = {k: unquote(v) for k, v in match.groupdict().items()}
                resource = _RESOURCE.match(path)
                kind = {"group-by-path": "groups"}.get(resource.group(1), resource.group(1)) if resource else "realm"
                kc.authorize_admin(self.headers.get("Authorization", ""), params.get("realm"), method, kind)
                payload = json.loads(raw) if raw.strip() else None
                return getattr(_Admin(kc), handler)(params, query, payload)
        kc.unhandled.append(f"{method} {path}")
        return 404, {"error": "test server: endpoint not implemented"}, {}


class _Admin:
    """Admin REST handlers; each returns (status, body, headers)."""

    def __init__(self, kc: KeycloakTestServer) -> None:
        self.kc = kc

    def _location(self, *parts: str) -> dict[str, str]:
        return {"Location": self.kc.url + "/" + "/".join(parts)}

    def list_realms(self, p, q, body):
        return 200, [{"id": r.name, "realm": r.name, "enabled": r.settings.get("enabled", True)} for r in self.kc.realms.values()], {}

    def create_realm(self, p, q, body):
        self.kc._import(body or {})
        return 201, None, self._location("admin", "realms", body["realm"])

    def get_realm(self, p, q, body):
        return 200, dict(self.kc._realm(p["realm"]).settings, realm=p["realm"]), {}

    def list_roles(self, p, q, body):
        return 200, _page(sorted(self.kc._realm(p["realm"]).roles.values(), key=lambda r: r["name"]), q), {}

    def create_role(self, p, q, body):
        realm = self.kc._realm(p["realm"])
        role = self.kc._create_role(realm, body or {})
        return 201, None, self._location("admin", "realms", realm.name, "roles", role["name"])

    def get_role(self, p, q, body):
        role = self.kc._realm(p["realm"]).roles.get(p["name"])
        if role is None:
            raise ApiError(404, {"error": "Could not find role"})
        return 200, role, {}

    def _client(self, p) -> tuple[Realm, dict[str, Any]]:
        realm = self.kc._realm(p["realm"])
        client = realm.clients.get(p["id"])
        if client is None:
            raise ApiError(404, {"error": "Could not find client"})
        return realm, client

    def list_clients(self, p, q, body):
        realm = self.kc._realm(p["realm"])
        clients = [c for c in realm.clients.values() if "clientId" not in q or c["clientId"] == q["clientId"]]
        return 200, _page(clients, q), {}

    def create_client(self, p, q, body):
        realm = self.kc._realm(p["realm"])
        internal = self.kc._create_client(realm, body or {})
        return 201, None, self._location("admin", "realms", realm.name, "clients", internal)

    def get_client(self, p, q, body):
        return 200, self._client(p)[1], {}

    def update_client(self, p, q, body):
        realm, client = self._client(p)
        updates = {k: v for k, v in (body or {}).items() if k not in ("id", "protocolMappers")}
        if updates.get("clientId", client["clientId"]) != client["clientId"]:
            raise ApiError(409, {"errorMessage": "clientId cannot be changed here"})
        client.update(updates)
        if client.get("serviceAccountsEnabled"):
            self.kc._service_account(realm, client["id"])
        return 204, None, {}

    def client_secret(self, p, q, body):
        return 200, {"type": "secret", "value": self._client(p)[1].get("secret")}, {}

    def list_mappers(self, p, q, body):
        return 200, self._client(p)[1]["protocolMappers"], {}

    def add_mapper(self, p, q, body):
        realm, client = self._client(p)
        self.kc._add_mapper(realm, client["id"], body or {})
        return 201, None, {}

    def service_account_user(self, p, q, body):
        realm, client = self._client(p)
        if not client.get("serviceAccountsEnabled"):
            raise ApiError(400, {"error": "Service account not enabled for the client"})
        return 200, self.kc._user_rep(self.kc._service_account(realm, client["id"])), {}

    def get_client_role(self, p, q, body):
        realm, client = self._client(p)
        role = realm.client_roles[client["id"]].get(p["name"])
        if role is None:
            raise ApiError(404, {"error": "Could not find role"})
        return 200, role, {}

    def _group(self, p) -> tuple[Realm, dict[str, Any]]:
        realm = self.kc._realm(p["realm"])
        group = realm.groups.get(p["id"])
        if group is None:
            raise ApiError(404, {"error": "Could not find group by id"})
        return realm, group

    def list_groups(self, p, q, body):
        realm = self.kc._realm(p["realm"])
        groups = realm.children(None)
        if q.get("search"):
            groups = [g for g in groups if q["search"].lower() in g["name"].lower()]
        brief = q.get("briefRepresentation", "true").lower() != "false"
        return 200, [self.kc._group_rep(realm, g, brief) for g in _page(groups, q)], {}

    def create_group(self, p, q, body):
        realm = self.kc._realm(p["realm"])
        group = self.kc._create_group(realm, body or {}, None)
        return 201, None, self._location("admin", "realms", realm.name, "groups", group["id"])

    def group_by_path(self, p, q, body):
        realm = self.kc._realm(p["realm"])
        wanted = "/" + p["path"].strip("/")
        for group in realm.groups.values():
            if realm.group_path(group) == wanted:
                return 200, self.kc._group_rep(realm, group, brief=False), {}
        raise ApiError(404, {"error": "Group path does not exist"})

    def get_group(self, p, q, body):
        realm, group = self._group(p)
        return 200, self.kc._group_rep(realm, group, brief=False), {}

    def update_group(self, p, q, body):
        realm, group = self._group(p)
        body = body or {}
        if "name" in body and body["name"] != group["name"]:
            if any(g["name"] == body["name"] for g in realm.children(group.get("parentId"))):
                raise ApiError(409, {"errorMessage": "Sibling group named '%s' already exists." % body["name"]})
            group["name"] = body["name"]
        if "attributes" in body:
            group["attributes"] = {k: list(v) for k, v in (body["attributes"] or {}).items()}
        return 204, None, {}

    def delete_group(self, p, q, body):
        realm, group = self._group(p)
        doomed = [group["id"]]
        i = 0
        while i < len(doomed):
            doomed += [g["id"] for g in realm.children(doomed[i])]
            i += 1
        for gid in doomed:
            realm.groups.pop(gid, None)
        for user in realm.users.values():
            user["groups"] -= set(doomed)
        return 204, None, {}

    def list_children(self, p, q, body):
        realm, group = self._group(p)
        brief = q.get("briefRepresentation", "true").lower() != "false"
        return 200, [self.kc._group_rep(realm, g, brief) for g in _page(realm.children(group["id"]), q)], {}

    def create_child(self, p, q, body):
        realm, parent = self._group(p)
        child = self.kc._create_group(realm, body or {}, parent["id"])
        return 201, None, self._location("admin", "realms", realm.name, "groups", child["id"])

    def group_members(self, p, q, body):
        realm, group = self._group(p)
        members = [self.kc._user_rep(u) for u in realm.users.values() if group["id"] in u["groups"]]
        return 200, _page(members, q), {}

    def group_roles(self, p, q, body):
        realm, group = self._group(p)
        return 200, [realm.roles[name] for name in sorted(group["realmRoles"]) if name in realm.roles], {}

    def add_group_roles(self, p, q, body):
        realm, group = self._group(p)
        for role in body or []:
            if role.get("name") not in realm.roles:
                raise ApiError(404, {"error": "Could not find role"})
            group["realmRoles"].add(role["name"])
        return 204, None, {}

    def _user(self, p) -> tuple[Realm, dict[str, Any]]:
        realm = self.kc._realm(p["realm"])
        user = realm.users.get(p["id"])
        if user is None:
            raise ApiError(404, {"error": "User not found"})
        return realm, user

    def list_users(self, p, q, body):
        realm = self.kc._realm(p["realm"])
        users = sorted(realm.users.values(), key=lambda u: u["username"])
        if "username" in q:
            wanted = q["username"].lower()
            users = [u for u in users if (u["username"] == wanted if _truthy(q.get("exact")) else wanted in u["username"])]
        users = [u for u in users if not u.get("serviceAccountClientId")]  # Keycloak hides service accounts here
        return 200, [self.kc._user_rep(u) for u in _page(users, q)], {}

    def create_user(self, p, q, body):
        realm = self.kc._realm(p["realm"])
        user = self.kc._create_user(realm, body or {})
        return 201, None, self._location("admin", "realms", realm.name, "users", user["id"])

    def get_user(self, p, q, body):
        return 200, self.kc._user_rep(self._user(p)[1]), {}

    def user_groups(self, p, q, body):
        realm, user = self._user(p)
        groups = [realm.groups[g] for g in sorted(user["groups"])]
        brief = q.get("briefRepresentation", "true").lower() != "false"
        return 200, [self.kc._group_rep(realm, g, brief) for g in _page(groups, q)], {}

    def join_group(self, p, q, body):
        realm, user = self._user(p)
        if p["gid"] not in realm.groups:
            raise ApiError(404, {"error": "Could not find group by id"})
        user["groups"].add(p["gid"])
        return 204, None, {}

    def leave_group(self, p, q, body):
        realm, user = self._user(p)
        if p["gid"] not in realm.groups:
            raise ApiError(404, {"error": "Could not find group by id"})
        user["groups"].discard(p["gid"])
        return 204, None, {}

    def add_user_realm_roles(self, p, q, body):
        realm, user = self._user(p)
        for role in body or []:
            if role.get("name") not in realm.roles:
                raise ApiError(404, {"error": "Could not find role"})
            user["realmRoles"].add(role["name"])
        return 204, None, {}

    def user_client_roles(self, p, q, body):
        realm, user = self._user(p)
        if p["cid"] not in realm.clients:
            raise ApiError(404, {"error": "Could not find client"})
        names = sorted(user["clientRoles"].get(p["cid"], set()))
        return 200, [realm.client_roles[p["cid"]][n] for n in names if n in realm.client_roles[p["cid"]]], {}

    def add_user_client_roles(self, p, q, body):
        realm, user = self._user(p)
        if p["cid"] not in realm.clients:
            raise ApiError(404, {"error": "Could not find client"})
        for role in body or []:
            if role.get("name") not in realm.client_roles[p["cid"]]:
                raise ApiError(404, {"error": "Could not find role"})
            user["clientRoles"].setdefault(p["cid"], set()).add(role["name"])
        return 204, None, {}
