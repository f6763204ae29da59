"""`hds deid ...`: text, message, eval and risk subcommands (JSON lines in, JSON lines out).

Presidio and spaCy are loaded only by `deid text` and `deid eval`, inside their handlers.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO

from catalog.cli.common import DEFAULT_PROFILES
from deid.engine import Deidentifier
from deid.keys import Keyring
from deid.risk import RiskInputError, risk_report
from deid.text.propagation import FindingsCache
from policies.settings import Settings


def _lines(stream: TextIO) -> Any:
    for n, line in enumerate(stream, start=1):
        if line.strip():
            yield n, line


def cmd_text(args: argparse.Namespace, stdin: TextIO | None = None, stdout: TextIO | None = None) -> int:
    """Lines without "group" are answered one by one as they come. From the first line with a "group" on,
    lines are held until the end of input: every grouped line is analysed, the group's findings are shared
    (deid.text.propagation), grouped lines are analysed again with them, and all answers leave in input order."""
    from deid.text.redactor import TextRedactor  # loads Presidio and spaCy (seconds): only `deid text` needs them

    inp, out = stdin or sys.stdin, stdout or sys.stdout
    redactor = TextRedactor()
    held: list[tuple[int, Any]] = []
    status = 0
    for n, line in _lines(inp):
        try:
            item = json.loads(line)
            if not isinstance(item, dict) or not isinstance(item["text"], str):
                raise TypeError
            group = item.get("group")
            if group is not None and not isinstance(group, (str, int)):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            item = None
        if held or (item is not None and item.get("group") is not None):
            held.append((n, item))
            continue
        status |= _answer_text(redactor, item, n, args.lang, None, out)
    if held:
        cache = FindingsCache(max_groups=max(1, len(held)), max_phrases=10_000)
        for _, item in held:
            if item is not None and item.get("group") is not None:
                try:
                    text = item["text"]
                    entities = redactor.analyze(text, lang=item.get("lang") or args.lang)
                except Exception:  # noqa: BLE001 - reported on the answering pass
                    continue
                cache.remember(str(item["group"]), text, entities)
        for n, item in held:
            key = str(item["group"]) if item is not None and item.get("group") is not None else None
            status |= _answer_text(redactor, item, n, args.lang, cache.known_for(key) if key else None, out)
    return status


def _answer_text(redactor: Any, item: Any, n: int, lang: str, known: Any, out: TextIO) -> int:
    if item is None:
        print(json.dumps({"id": None, "error": "bad_input_line", "line": n}), file=out, flush=True)
        return 1
    rid = item.get("id")
    try:
        redacted, entities = redactor.redact(item["text"], lang=item.get("lang") or lang, known=known)
    except Exception as exc:  # noqa: BLE001 - fail closed: never echo the text
        print(json.dumps({"id": rid, "error": "redaction_error", "detail": type(exc).__name__}), file=out, flush=True)
        return 1
    ents = [{"start": e.start, "end": e.end, "type": e.type} for e in entities]
    print(json.dumps({"id": rid, "text": redacted, "entities": ents}, ensure_ascii=False), file=out, flush=True)
    return 0


def cmd_message(
    args: argparse.Namespace, stdin: TextIO | None = None, stdout: TextIO | None = None, engine: Any = None
) -> int:
    """`engine`: a ready `Deidentifier` (tests); by default one is built from the settings (keys, profiles)."""
    inp, out = stdin or sys.stdin, stdout or sys.stdout
    if engine is None:
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
    from deid.text.evaluation import run_cli, run_suite  # loads Presidio and spaCy: only `deid eval` needs them

    if getattr(args, "suite", False):
        return int(run_suite(args.physionet))
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
