"""`hds`: the one command-line tool.

Building the parser is light: this module imports only the standard library, settings and role names, so
`hds --help` and the light commands start fast. Each handler imports the `catalog/cli` module that implements
it when it runs (`streams`: Kafka only; `services`: gateway and catalog; `demo`, `bench`, `deid`, `identity`,
`audit`), so `hds token` never loads DuckDB, and only `deid text` and `deid eval` load Presidio and spaCy.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from catalog.cli import logs
from catalog.cli.common import DEFAULT_PROFILES, settings_from_args, stop_on_signals
from policies.principal import ROLES
from policies.settings import SettingsError

# --- handlers: each imports its implementation when it runs (same package, lazy so start-up stays light) -----


def cmd_broker(args: argparse.Namespace) -> int:
    from catalog.cli import streams  # lazy: the Kafka client, only for the commands that talk to Kafka

    return streams.cmd_broker(args)


def cmd_publish(args: argparse.Namespace) -> int:
    from catalog.cli import streams  # lazy: the Kafka client, only for the commands that talk to Kafka

    return streams.cmd_publish(args)


def cmd_dlq_list(args: argparse.Namespace) -> int:
    from catalog.cli import streams  # lazy: the Kafka client, only for the commands that talk to Kafka

    return streams.cmd_dlq_list(args)


def cmd_dlq_replay(args: argparse.Namespace) -> int:
    from catalog.cli import streams  # lazy: the Kafka client, only for the commands that talk to Kafka

    return streams.cmd_dlq_replay(args)


def cmd_mllp(args: argparse.Namespace) -> int:
    from catalog.cli import streams  # lazy: the Kafka client, only for the commands that talk to Kafka

    return streams.cmd_mllp(args)


def cmd_gateway(args: argparse.Namespace) -> int:
    from catalog.cli import services  # lazy: the gateway pipeline and the catalog server

    return services.cmd_gateway(args)


def cmd_catalog_serve(args: argparse.Namespace) -> int:
    from catalog.cli import services  # lazy: the gateway pipeline and the catalog server

    return services.cmd_catalog_serve(args)


def cmd_synth(args: argparse.Namespace) -> int:
    from catalog.cli.synth.feeds import generate  # lazy: the synthetic-data generator, only for `hds synth`

    manifest = generate(Path(args.out), seed=args.seed, patients=args.patients)
    hospitals = getattr(manifest, "hospitals", {})
    print(json.dumps({"out": str(args.out), "seed": args.seed, "hospitals": sorted(hospitals),
                      "patients": getattr(manifest, "patients", args.patients),
                      "shared_patients": getattr(manifest, "shared_patients", None)}))
    return 0


# The demo's city: enough patients that ordinary aggregate queries come back unsuppressed. The smoke check runs the
# small city (it also searches the whole catalog for every synthetic identifier, which grows with the city).
DEMO_PATIENTS = 2000
SMOKE_PATIENTS = 60


def cmd_demo(args: argparse.Namespace) -> int:
    from catalog.cli.demo import run_demo  # lazy: every component of the data space

    settings = settings_from_args(args)
    if args.port is not None:
        settings = settings.with_(api_port=args.port)
    patients = args.patients or (SMOKE_PATIENTS if args.smoke else DEMO_PATIENTS)
    return run_demo(settings, smoke=args.smoke, seed=args.seed, patients=patients, stop=stop_on_signals(),
                    timeout_s=args.timeout, port_given=args.port is not None)


def cmd_bench(args: argparse.Namespace) -> int:
    from catalog.cli.bench import run_bench  # lazy: every component of the data space

    result = run_bench(args.what, settings_from_args(args), size=args.size)
    print(json.dumps(result))
    return 0


def cmd_deid(args: argparse.Namespace) -> int:
    from catalog.cli import deid  # lazy: the de-identification engine (`text` and `eval` then load Presidio)

    handlers = {"text": deid.cmd_text, "message": deid.cmd_message, "eval": deid.cmd_eval, "risk": deid.cmd_risk}
    return handlers[args.deid_command](args)


def cmd_token(args: argparse.Namespace) -> int:
    from catalog.cli import identity  # lazy: JWT signing and the identity providers

    return identity.token_command(args)


def cmd_keycloak_bootstrap(args: argparse.Namespace) -> int:
    from catalog.cli import identity  # lazy: the Keycloak admin client

    return identity.keycloak_bootstrap_command(args)


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from catalog.cli import audit  # lazy: DuckDB

    return audit.handle_verify(args)


# --- parser ---------------------------------------------------------------------------------------------------


def _add_pipeline_commands(sub: Any) -> None:
    b = sub.add_parser("broker", help="start the embedded Kafka-protocol broker (tansu) and print its address")
    b.add_argument("--port", type=int, default=None, help="port (default: a free one)")
    b.add_argument("--host", default="127.0.0.1")
    b.set_defaults(func=cmd_broker)

    s = sub.add_parser("synth", help="write synthetic hospital feeds (HL7 v2, FHIR R4, CSV) for three hospitals")
    s.add_argument("--out", default="synthetic-feeds", help="output directory (default: ./synthetic-feeds)")
    s.add_argument("--seed", type=int, default=7)
    s.add_argument("--patients", type=int, default=60)
    s.set_defaults(func=cmd_synth)

    pub = sub.add_parser("publish", help="publish feed files to hds.raw.<hospital>.<feed>")
    pub.add_argument("--hospital", required=True)
    pub.add_argument("--feed", required=True)
    pub.add_argument("--format", choices=["hl7v2", "fhir", "csv"], default=None, help="default: detect")
    pub.add_argument("--bootstrap", help="Kafka bootstrap servers (default: $HDS_KAFKA_BOOTSTRAP)")
    pub.add_argument("files", nargs="+", metavar="FILE")
    pub.set_defaults(func=cmd_publish)

    g = sub.add_parser("gateway", help="run the de-identification gateway (consumes hds.raw.*)")
    g.add_argument("--bootstrap", help="Kafka bootstrap servers (default: $HDS_KAFKA_BOOTSTRAP)")
    g.set_defaults(func=cmd_gateway)

    c = sub.add_parser("catalog", help="the DuckDB catalog")
    csub = c.add_subparsers(dest="catalog_command", metavar="SUBCOMMAND", required=True)
    cs = csub.add_parser("serve", help="load hds.deid.* into DuckDB and serve the API")
    cs.add_argument("--port", type=int, default=None, help="API port (default: $HDS_API_PORT or 8000)")
    cs.add_argument("--host", default=None)
    cs.add_argument("--db", help="DuckDB file (default: $HDS_CATALOG_DB or $HDS_DATA_DIR/catalog.duckdb)")
    cs.add_argument("--bootstrap", help="Kafka bootstrap servers (default: $HDS_KAFKA_BOOTSTRAP; none: API only)")
    cs.set_defaults(func=cmd_catalog_serve)

    dq = sub.add_parser("dlq", help="the dead-letter topics: what was rejected, where and why (never content)")
    dsub = dq.add_subparsers(dest="dlq_command", metavar="SUBCOMMAND", required=True)
    dl = dsub.add_parser("list", help="list dead letters as JSON lines, then a summary line")
    dr = dsub.add_parser("replay", help="send dead letters back to their raw topic for the gateway to process again "
                         "(after a profile or registry fix); idempotent")
    for sp in (dl, dr):
        sp.add_argument("--hospital", help="only this hospital's dead-letter topics")
        sp.add_argument("--feed", help="only this feed's dead-letter topics")
        sp.add_argument("--reason", help="only dead letters with this reason code (e.g. hl7_parse_error)")
        sp.add_argument("--bootstrap", help="Kafka bootstrap servers (default: $HDS_KAFKA_BOOTSTRAP)")
    dl.add_argument("--limit", type=int, default=None, help="stop after N dead letters")
    dl.add_argument("--summary", action="store_true", help="print only the summary (counts per reason)")
    dl.set_defaults(func=cmd_dlq_list)
    dr.set_defaults(func=cmd_dlq_replay)

    ml = sub.add_parser("mllp", help="HL7 v2 over MLLP into hds.raw.<hospital>.<feed>; ACK AA once the broker has it")
    ml.add_argument("--hospital", required=True)
    ml.add_argument("--feed", required=True)
    ml.add_argument("--port", type=int, default=2575, help="MLLP port (default 2575; 0: a free one)")
    ml.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback only)")
    ml.add_argument("--health-port", type=int, default=None, help="serve /health/live and /health/ready here")
    ml.add_argument("--write-timeout", type=float, default=10.0,
                    help="seconds to wait for the broker's acknowledgement before answering AE (default 10)")
    ml.add_argument("--bootstrap", help="Kafka bootstrap servers (default: $HDS_KAFKA_BOOTSTRAP)")
    ml.set_defaults(func=cmd_mllp)


def _add_demo_commands(sub: Any) -> None:
    d = sub.add_parser("demo", help="everything on one machine: broker, gateway, catalog, API, synthetic feeds")
    d.add_argument("--port", type=int, default=None, help="API/portal port (default: $HDS_API_PORT or 8000)")
    d.add_argument("--smoke", action="store_true", help="run once, verify, print a JSON summary, exit 0/1")
    d.add_argument("--seed", type=int, default=7)
    d.add_argument("--patients", type=int, default=None,
                   help=f"synthetic patients (default: {DEMO_PATIENTS}; --smoke: {SMOKE_PATIENTS})")
    d.add_argument("--timeout", type=float, default=240.0, help="smoke: seconds to wait for the pipeline")
    d.add_argument("--data-dir", help="data directory (default: $HDS_DATA_DIR or .hds; --smoke: a fresh temporary one)")
    d.add_argument("--bootstrap", help="use this Kafka instead of the embedded broker (default: $HDS_KAFKA_BOOTSTRAP)")
    d.set_defaults(func=cmd_demo)

    be = sub.add_parser("bench", help="benchmarks (JSON as the last line)")
    be.add_argument("what", choices=["deid", "pipeline"])
    be.add_argument("--size", type=int, default=None, help="number of notes/messages")
    be.set_defaults(func=cmd_bench)


def add_deid_commands(subparsers: Any) -> None:
    deid = subparsers.add_parser("deid", help="de-identify free text and messages, evaluate, assess risk")
    sub = deid.add_subparsers(dest="deid_command", required=True)
    deid.set_defaults(func=cmd_deid)

    text = sub.add_parser("text", help='JSON lines {"id","text","lang"?,"group"?} -> {"id","text","entities"}')
    text.add_argument("--lang", choices=["en", "zh", "auto"], default="auto")

    message = sub.add_parser("message", help='JSON lines {"id","payload"} -> {"id","payload"} de-identified')
    message.add_argument("--format", required=True, choices=sorted(DEFAULT_PROFILES))
    message.add_argument("--profile", default=None, help="profile name (default: the format's Safe Harbor profile)")
    message.add_argument("--hospital", default="default", help="hospital scope of local identifiers")

    ev = sub.add_parser("eval", help='score the text redactor on gold JSON lines {"id","text","spans"}')
    ev_src = ev.add_mutually_exclusive_group(required=True)
    ev_src.add_argument("--gold", help="one gold file (PhysioNet ids: tuning and validation parts reported apart)")
    ev_src.add_argument("--suite", action="store_true", help="every corpus: PhysioNet parts, Faker seeds, synthetic")
    ev.add_argument("--physionet", default=None, help="PhysioNet gold file for --suite")
    ev.add_argument("--lang", choices=["en", "zh", "auto"], default="auto")

    risk = sub.add_parser("risk", help="k-anonymity, share of records in classes < k, l-diversity (JSON)")
    src = risk.add_mutually_exclusive_group(required=True)
    src.add_argument("--csv", help="a CSV file with a header row")
    src.add_argument("--duckdb", help="a DuckDB database file (with --table)")
    risk.add_argument("--table", help="table name inside --duckdb")
    risk.add_argument("--quasi", required=True, help="comma-separated quasi-identifier columns")
    risk.add_argument("--sensitive", default=None, help="sensitive column for l-diversity")
    risk.add_argument("--k", type=int, default=5)
def add_identity_commands(subparsers: Any) -> None:
    token = subparsers.add_parser(
        "token",
        help="print a bearer token from the embedded dev issuer (development only)",
        description="Print ONE line: a bearer token from the embedded dev issuer (the demo's issuer).",
    )
    token.add_argument("--user", required=True, help="preferred_username of the token")
    token.add_argument("--role", action="append", required=True, choices=ROLES, help="realm role (repeatable)")
    token.add_argument("--hospital", default=None, help="hospital claim (required with --role hospital-publisher)")
    token.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds (default 3600)")
    token.set_defaults(func=cmd_token)

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
    boot.set_defaults(func=cmd_keycloak_bootstrap)


def add_audit_commands(subparsers: Any) -> None:
    audit = subparsers.add_parser("audit", help="tamper-evident audit log")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_commands.add_parser("verify", help="verify the audit hash chain; JSON report as last line")
    verify.add_argument("--db", type=Path, default=None,
                        help="catalog DuckDB file (default: HDS_CATALOG_DB or HDS_DATA_DIR/catalog.duckdb)")
    verify.set_defaults(func=cmd_audit_verify)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hds", description="City health data space: feeds -> Kafka -> de-identification "
                                "-> DuckDB catalog -> governed research access.")
    p.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-v info, -vv debug)")
    p.add_argument("--log-format", choices=logs.FORMATS, default=None,
                   help="text (default) or json: one JSON object per line ($HDS_LOG_FORMAT)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_pipeline_commands(sub)
    _add_demo_commands(sub)
    add_deid_commands(sub)
    add_identity_commands(sub)
    add_audit_commands(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    if args.command in {"gateway", "catalog", "demo"} and args.verbose == 0:
        level = logging.INFO
    log_format = args.log_format or os.environ.get("HDS_LOG_FORMAT", "text")
    if log_format not in logs.FORMATS:
        print("hds: configuration error: HDS_LOG_FORMAT must be text or json", file=sys.stderr)
        return 2
    logs.configure(level, log_format)
    # kafka-python reports reconnects and shutdown races as errors; they are retried and not ours to show.
    logging.getLogger("kafka").setLevel(logging.ERROR if args.verbose >= 2 else logging.CRITICAL)
    logging.getLogger("httpx").setLevel(logging.INFO if args.verbose >= 2 else logging.WARNING)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if isinstance(exc, SettingsError):
            print(f"hds: configuration error: {exc}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
