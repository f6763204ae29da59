"""`hds token` (a bearer token from the embedded dev issuer) and `hds keycloak bootstrap`."""

from __future__ import annotations

import argparse
import json
import os
import sys

from policies.identity.dev_issuer import DevIssuer
from policies.identity.errors import GrantMirrorError, IdentityConfigError
from policies.identity.factory import issuer_from_settings
from policies.identity.keycloak_admin import admin_client, bootstrap_realm
from policies.identity.realm import RealmExportError, default_realm_export, load_realm_export
from policies.settings import Settings, SettingsError


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
