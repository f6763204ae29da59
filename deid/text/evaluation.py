"""Scoring a redactor against gold spans (JSON lines `{"id", "text", "spans": [{"start", "end", "type"}]}`).

- span recall: a gold span counts as found only if every letter/digit in it is covered by some predicted span;
- character precision: predicted letter/digit characters inside gold spans / all predicted letter/digit chars;
- per-type recall (gold types as written in the file);
- leaked: gold strings that still appear verbatim in the redacted text (a stricter, string-level check).
Reports hold counts and ratios only, never text.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from deid.text.redactor import apply_redaction
from deid.text.types import Entity, Redactor


def load_gold(path: str | Path) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    with Path(path).open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"gold file line {lineno}: not JSON ({exc.msg})") from None
            if not isinstance(rec, dict) or not isinstance(rec.get("text"), str) or not isinstance(rec.get("spans"), list):
                raise ValueError(f"gold file line {lineno}: needs fields text (string) and spans (list)")
            records.append(rec)
    return records


def _alnum_positions(text: str, start: int, end: int) -> list[int]:
    return [i for i in range(start, end) if text[i].isalnum()]


def score_record(text: str, gold: Sequence[Mapping[str, Any]], predicted: Sequence[Entity]) -> dict[str, Any]:
    covered = bytearray(len(text))
    for e in predicted:
        for i in range(max(0, e.start), min(len(text), e.end)):
            covered[i] = 1
    in_gold = bytearray(len(text))
    found_by_type: Counter[str] = Counter()
    total_by_type: Counter[str] = Counter()
    for s in gold:
        start, end, etype = int(s["start"]), int(s["end"]), str(s.get("type", "PHI"))
        for i in range(max(0, start), min(len(text), end)):
            in_gold[i] = 1
        total_by_type[etype] += 1
        if all(covered[i] for i in _alnum_positions(text, start, end)):
            found_by_type[etype] += 1
    pred_chars = sum(1 for i, c in enumerate(text) if covered[i] and c.isalnum())
    pred_in_gold = sum(1 for i, c in enumerate(text) if covered[i] and in_gold[i] and c.isalnum())
    redacted = apply_redaction(text, predicted)
    leaked = 0
    for s in gold:
        value = text[int(s["start"]) : int(s["end"])].strip()
        if len(value) >= 2 and value in redacted:
            leaked += 1
    return {
        "found_by_type": found_by_type,
        "total_by_type": total_by_type,
        "pred_chars": pred_chars,
        "pred_in_gold": pred_in_gold,
        "leaked": leaked,
    }


def evaluate(records: Iterable[Mapping[str, Any]], redactor: Redactor, *, lang: str = "auto") -> dict[str, Any]:
    found: Counter[str] = Counter()
    total: Counter[str] = Counter()
    pred_chars = pred_in_gold = leaked = notes = 0
    for rec in records:
        text = str(rec["text"])
        note_lang = str(rec.get("lang") or lang) if lang == "auto" else lang
        predicted = redactor.analyze(text, lang=note_lang)
        s = score_record(text, rec.get("spans") or [], predicted)
        found.update(s["found_by_type"])
        total.update(s["total_by_type"])
        pred_chars += s["pred_chars"]
        pred_in_gold += s["pred_in_gold"]
        leaked += s["leaked"]
        notes += 1
    gold_spans = sum(total.values())
    return {
        "notes": notes,
        "gold_spans": gold_spans,
        "span_recall": round(sum(found.values()) / gold_spans, 4) if gold_spans else 1.0,
        "char_precision": round(pred_in_gold / pred_chars, 4) if pred_chars else 1.0,
        "per_type_recall": {t: round(found[t] / total[t], 4) for t in sorted(total)},
        "per_type_count": {t: total[t] for t in sorted(total)},
        "leaked_gold_strings": leaked,
        "predicted_chars": pred_chars,
    }


def run_cli(gold_path: str, lang: str = "auto") -> int:
    """Entry point for `hds deid eval --gold FILE [--lang]`: prints the JSON report as the last stdout line.
    Exit 0 on a report, 2 when the gold file cannot be read (the reason names the file and line, no text)."""
    from deid.text.redactor import TextRedactor

    try:
        records = load_gold(gold_path)
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        print(json.dumps({"error": "gold file unreadable", "file": gold_path, "reason": reason}))
        return 2
    report = evaluate(records, TextRedactor(), lang=lang)
    report["gold_file"] = gold_path
    print(json.dumps(report, sort_keys=True))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m deid.text.evaluation", description=__doc__.splitlines()[0])
    parser.add_argument("--gold", required=True, help="JSON lines with id, text, spans")
    parser.add_argument("--lang", default="auto", choices=["auto", "en", "zh"])
    args = parser.parse_args(argv)
    return run_cli(args.gold, args.lang)


if __name__ == "__main__":
    sys.exit(main())
