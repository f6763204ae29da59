"""`hds deid ...`: text, message, eval and risk subcommands (JSON lines in, JSON lines out).

Presidio and spaCy are loaded only by `deid text` and `deid eval`, inside their handlers.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO

from deid.engine import Deidentifier
from deid.keys import Keyring
from deid.risk import RiskInputError, risk_report
from policies.settings import Settings

DEFAULT_PROFILES = {"hl7v2": "hl7v2-safe-harbor", "fhir": "fhir-safe-harbor", "csv": "csv-lab-safe-harbor"}


def register(subparsers: Any) -> None:
    deid = subparsers.add_parser("deid", help="de-identify free text and messages, evaluate, assess risk")
    sub = deid.add_subparsers(dest="deid_command", required=True)

    text = sub.add_parser("text", help='JSON lines {"id","text","lang"?} -> {"id","text","entities"}')
    text.add_argument("--lang", choices=["en", "zh", "auto"], default="auto")
    text.set_defaults(func=cmd_text)

    message = sub.add_parser("message", help='JSON lines {"id","payload"} -> {"id","payload"} de-identified')
    message.add_argument("--format", required=True, choices=sorted(DEFAULT_PROFILES))
    message.add_argument("--profile", default=None, help="profile name (default: the format's Safe Harbor profile)")
    message.add_argument("--hospital", default="default", help="hospital scope of local identifiers")
    message.set_defaults(func=cmd_message)

    ev = sub.add_parser("eval", help='score the text redactor on gold JSON lines {"id","text","spans"}')
    ev.add_argument("--gold", required=True)
    ev.add_argument("--lang", choices=["en", "zh", "auto"], default="auto")
    ev.set_defaults(func=cmd_eval)

    risk = sub.add_parser("risk", help="k-anonymity, share of records in classes < k, l-diversity (JSON)")
    src = risk.add_mutually_exclusive_group(required=True)
    src.add_argument("--csv", help="a CSV file with a header row")
    src.add_argument("--duckdb", help="a DuckDB database file (with --table)")
    risk.add_argument("--table", help="table name inside --duckdb")
    risk.add_argument("--quasi", required=True, help="comma-separated quasi-identifier columns")
    risk.add_argument("--sensitive", default=None, help="sensitive column for l-diversity")
    risk.add_argument("--k", type=int, default=5)
    risk.set_defaults(func=cmd_risk)


def _lines(stream: TextIO) -> Any:
    for n, line in enumerate(stream, start=1):
        if line.strip():
            yield n, line


def cmd_text(args: argparse.Namespace, stdin: TextIO | None = None, stdout: TextIO | None = None) -> int:
    from deid.text.redactor import TextRedactor  # loads Presidio and spaCy (seconds): only `deid text` needs them

    inp, out = stdin or sys.stdin, stdout or sys.stdout
    redactor = TextRedactor()
    status = 0
    for n, line in _lines(inp):
        try:
            item = json.loads(line)
            text = item["text"]
            if not isinstance(text, str):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            print(json.dumps({"id": None, "error": "bad_input_line", "line": n}), file=out, flush=True)
            status = 1
            continue
        rid = item.get("id")
        try:
            redacted, entities = redactor.redact(text, lang=item.get("lang") or args.lang)
        except Exception as exc:  # noqa: BLE001 - fail closed: never echo the text
            print(json.dumps({"id": rid, "error": "redaction_error", "detail": type(exc).__name__}), file=out, flush=True)
            status = 1
            continue
        ents = [{"start": e.start, "end": e.end, "type": e.type} for e in entities]
        print(json.dumps({"id": rid, "text": redacted, "entities": ents}, ensure_ascii=False), file=out, flush=True)
    return status


def cmd_message(args: argparse.Namespace, stdin: TextIO | None = None, stdout: TextIO | None = None) -> int:
    inp, out = stdin or sys.stdin, stdout or sys.stdout
    settings = Settings.from_env()
    engine = Deidentifier(keyring=Keyring(settings.deid_keys, current=settings.deid_key_id), profiles_dir=settings.profiles_dir)
    profile = args.profile or DEFAULT_PROFILES[args.format]
    status = 0
    for n, line in _lines(inp):
        try:
            item = json.loads(line)
            payload = item["payload"]
        except (ValueError, KeyError, TypeError):
            print(json.dumps({"id": None, "error": "bad_input_line", "line": n}), file=out, flush=True)
            status = 1
            continue
        result = engine.deidentify(payload, format=args.format, profile=profile, hospital=args.hospital)
        if result.ok:
            print(json.dumps({"id": item.get("id"), "payload": result.payload}, ensure_ascii=False), file=out, flush=True)
        else:
            status = 1
            print(json.dumps({"id": item.get("id"), "error": result.reason}), file=out, flush=True)
    return status


def cmd_eval(args: argparse.Namespace) -> int:
    from deid.text.evaluation import run_cli  # loads Presidio and spaCy (seconds): only `deid eval` needs them

    return int(run_cli(args.gold, lang=args.lang))


def cmd_risk(args: argparse.Namespace, stdout: TextIO | None = None) -> int:
    out = stdout or sys.stdout
    quasi = [q.strip() for q in args.quasi.split(",") if q.strip()]
    try:
        if args.csv:
            import csv

            with open(args.csv, newline="", encoding="utf-8") as fh:
                report = risk_report(csv.DictReader(fh), quasi, sensitive=args.sensitive, k=args.k)
            report["source"] = args.csv
        else:
            if not args.table or not args.table.replace("_", "").isalnum():
                print(json.dumps({"error": "a plain --table name is required with --duckdb"}), file=out)
                return 2
            import duckdb

            con = duckdb.connect(args.duckdb, read_only=True)
            try:
                cur = con.execute(f'SELECT * FROM "{args.table}"')
                names = [d[0] for d in cur.description]
                rows = (dict(zip(names, r, strict=True)) for r in cur.fetchall())
                report = risk_report(rows, quasi, sensitive=args.sensitive, k=args.k)
            finally:
                con.close()
            report["source"] = f"{args.duckdb}:{args.table}"
    except (OSError, RiskInputError) as exc:
        print(json.dumps({"error": type(exc).__name__, "detail": str(exc) if isinstance(exc, RiskInputError) else None}), file=out)
        return 2
    print(json.dumps(report, sort_keys=True), file=out)
    return 0
