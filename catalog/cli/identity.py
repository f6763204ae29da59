"""`hds token` (a bearer token from the embedded dev issuer) and `hds keycloak bootstrap`."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from policies.identity.dev_issuer import DevIssuer
from policies.identity.errors import GrantMirrorError, IdentityConfigError
from policies.identity.factory import issuer_from_settings
from policies.identity.keycloak_admin import admin_client, bootstrap_realm
from policies.identity.realm import RealmExportError, default_realm_export, load_realm_export
from policies.settings import Settings, SettingsError

REALM_ROLES = ("authority-admin", "data-steward", "researcher", "hospital-publisher")


def register(subparsers: Any) -> None:
    token = subparsers.add_parser(
        "token",
        help="print a bearer token from the embedded dev issuer (development only)",
        description="Print ONE line: a bearer token from the embedded dev issuer (the demo's issuer).",
    )
    token.add_argument("--user", required=True, help="preferred_username of the token")
    token.add_argument("--role", action="append", required=True, choices=REALM_ROLES, help="realm role (repeatable)")
    token.add_argument("--hospital", default=None, help="hospital claim (required with --role hospital-publisher)")
    token.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds (default 3600)")
    token.set_defaults(func=token_command)

    keycloak = subparsers.add_parser("keycloak", help="Keycloak administration (realm provisioning)")
    actions = keycloak.add_subparsers(dest="keycloak_command", required=True)
    boot = actions.add_parser(
        "bootstrap",
        help="provision the hds realm idempotently from policies/keycloak/realm-hds.json",
        description=(
            "Provision realm roles, the hds-api (confidential) and hds-portal (public, PKCE) clients, protocol "
            "mappers and groups through the Keycloak admin API. Safe to run repeatedly. Credentials: "
            "--admin-user/--admin-password (or HDS_KEYCLOAK_ADMIN_USER / HDS_KEYCLOAK_ADMIN_PASSWORD), else the "
            "client credentials HDS_KEYCLOAK_ADMIN_CLIENT_ID / HDS_KEYCLOAK_ADMIN_CLIENT_SECRET."
        ),
    )
    boot.add_argument("--server-url", default=None, help="Keycloak base URL (default HDS_KEYCLOAK_URL)")
    boot.add_argument("--realm", default=None, help="realm to provision (default HDS_KEYCLOAK_REALM or hds)")
    boot.add_argument("--auth-realm", default="master", help="realm the admin credentials belong to (default master)")
    boot.add_argument("--admin-user", default=None)
    boot.add_argument("--admin-password", default=None)
    boot.add_argument("--portal-url", default=None, help="public URL of the portal (redirect URIs); default the API URL")
    boot.add_argument("--hospital", action="append", default=[], help="create group /hospitals/<H> (repeatable)")
    boot.add_argument("--realm-file", default=None, help="realm export to apply (default policies/keycloak/realm-hds.json)")
    boot.set_defaults(func=keycloak_bootstrap_command)


def token_command(args: argparse.Namespace) -> int:
    try:
        settings = Settings.from_env(need_deid_keys=False)
        if issuer_from_settings(settings) is not None:
            print(
                "hds token: an external issuer (Keycloak/OIDC) is configured; get tokens from it, "
                "not from the embedded dev issuer",
                file=sys.stderr,
            )
            return 2
        issuer = DevIssuer.from_settings(settings)
        token = issuer.issue(args.user, args.role, hospital=args.hospital, ttl_s=args.ttl)
    except (SettingsError, IdentityConfigError, ValueError) as exc:
        print(f"hds token: {exc}", file=sys.stderr)
        return 2
    print(token)
    return 0


def keycloak_bootstrap_command(args: argparse.Namespace) -> int:
    from keycloak.exceptions import KeycloakError

    try:
        settings = Settings.from_env(need_deid_keys=False)
        server_url = args.server_url or settings.keycloak_url
        if not server_url:
            print("hds keycloak bootstrap: --server-url or HDS_KEYCLOAK_URL is required", file=sys.stderr)
            return 2
        spec = load_realm_export(args.realm_file or default_realm_export(settings.policies_dir))
        realm = args.realm or settings.keycloak_realm or spec.name
        if realm != spec.name:
            spec = type(spec)(spec.source, {**spec.document, "realm": realm})
        user = args.admin_user or os.environ.get("HDS_KEYCLOAK_ADMIN_USER")
        password = args.admin_password or os.environ.get("HDS_KEYCLOAK_ADMIN_PASSWORD")
        admin = admin_client(
            server_url,
            realm,
            username=user,
            password=password,
            client_id=None if (user and password) else settings.keycloak_admin_client_id,
            client_secret=None if (user and password) else settings.keycloak_admin_client_secret,
            auth_realm=args.auth_realm,
        )
        portal_url = args.portal_url or f"http://{settings.api_host}:{settings.api_port}"
        report = bootstrap_realm(
            admin,
            spec,
            portal_url=portal_url,
            api_client_secret=os.environ.get("HDS_API_CLIENT_SECRET") or None,
            hospitals=args.hospital,
        )
    except (SettingsError, IdentityConfigError, RealmExportError, GrantMirrorError) as exc:
        print(f"hds keycloak bootstrap: {exc}", file=sys.stderr)
        return 2
    except KeycloakError as exc:
        print(f"hds keycloak bootstrap: Keycloak refused a request (HTTP {exc.response_code})", file=sys.stderr)
        return 1
    print(json.dumps(report.as_dict()))
    return 0
