"""`hds token` and `hds keycloak bootstrap` through their argparse registration (the same code `hds` runs)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from policies.settings import Settings
from catalog.cli.main import add_identity_commands as register
from policies.identity.dev_issuer import DevIssuer
from tests.policies.identity.conftest import ADMIN_PASSWORD, ADMIN_USER


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="hds")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


@pytest.fixture
def dev_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in ("HDS_OIDC_ISSUER", "HDS_KEYCLOAK_URL", "HDS_ENV"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HDS_DATA_DIR", str(tmp_path))
    return tmp_path


def test_given_user_and_roles_then_token_prints_one_verifiable_line(dev_env: Path, capsys) -> None:
    assert _run(["token", "--user", "res1", "--role", "researcher", "--role", "data-steward", "--ttl", "120"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    principal = DevIssuer.from_settings(Settings.from_env()).verifier().verify(out.strip())
    assert principal.username == "res1" and principal.roles == frozenset({"researcher", "data-steward"})


def test_given_publisher_role_then_hospital_is_required(dev_env: Path, capsys) -> None:
    assert _run(["token", "--user", "pub1", "--role", "hospital-publisher"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "hospital" in captured.err
    assert _run(["token", "--user", "pub1", "--role", "hospital-publisher", "--hospital", "st-mary"]) == 0


def test_given_unknown_role_then_argparse_refuses(dev_env: Path, capsys) -> None:
    with pytest.raises(SystemExit) as info:
        _run(["token", "--user", "x", "--role", "root"])
    assert info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_given_production_then_token_is_refused(dev_env: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("HDS_ENV", "production")
    monkeypatch.setenv("HDS_DEID_KEY", "k" * 40)
    assert _run(["token", "--user", "x", "--role", "researcher"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "HDS_ENV=production" in captured.err
    assert not (dev_env / "dev-issuer").exists()


def test_given_keycloak_configured_then_token_points_to_it(dev_env: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("HDS_KEYCLOAK_URL", "http://127.0.0.1:1")
    assert _run(["token", "--user", "x", "--role", "researcher"]) == 2
    assert "external issuer" in capsys.readouterr().err


def test_given_test_server_then_keycloak_bootstrap_prints_json_summary(kc, dev_env: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("HDS_KEYCLOAK_ADMIN_USER", ADMIN_USER)
    monkeypatch.setenv("HDS_KEYCLOAK_ADMIN_PASSWORD", ADMIN_PASSWORD)
    assert _run(["keycloak", "bootstrap", "--server-url", kc.url, "--hospital", "st-mary"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["realm"] == "hds" and "client:hds-api" in summary["created"]
    assert _run(["keycloak", "bootstrap", "--server-url", kc.url, "--hospital", "st-mary"]) == 0
    again = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert again["created"] == [] and again["updated"] == []


def test_given_bad_admin_password_then_bootstrap_exits_nonzero_without_echoing_it(kc, dev_env: Path, capsys) -> None:
    rc = _run(["keycloak", "bootstrap", "--server-url", kc.url, "--admin-user", "admin", "--admin-password", "s3cr3t-wrong"])
    captured = capsys.readouterr()
    assert rc == 1 and "HTTP 401" in captured.err and "s3cr3t-wrong" not in captured.err + captured.out


def test_given_no_server_url_then_bootstrap_explains(dev_env: Path, capsys) -> None:
    assert _run(["keycloak", "bootstrap"]) == 2
    assert "HDS_KEYCLOAK_URL" in capsys.readouterr().err
