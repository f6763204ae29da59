"""Scoring a redactor against gold spans (JSON lines `{"id", "text", "spans": [{"start", "end", "type"}]}`).

- span recall: a gold span counts as found only if every letter/digit in it is covered by some predicted span;
- character precision: predicted letter/digit characters inside gold spans / all predicted letter/digit chars;
- per-type recall (gold types as written in the file);
- leaked: gold strings that still appear verbatim in the redacted text (a stricter, string-level check).
Reports hold counts and ratios only, never text.
"""

from __future__ import annotations

import json
import re
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


def score_record(
    text: str, gold: Sequence[Mapping[str, Any]], predicted: Sequence[Entity], keep: Sequence[Mapping[str, Any]] = ()
) -> dict[str, Any]:
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
    kept = sum(1 for k in keep if not any(e.start < int(k["end"]) and int(k["start"]) < e.end for e in predicted))
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
        "keep_total": len(keep),
        "keep_kept": kept,
    }


def evaluate(records: Iterable[Mapping[str, Any]], redactor: Redactor, *, lang: str = "auto") -> dict[str, Any]:
    found: Counter[str] = Counter()
    total: Counter[str] = Counter()
    pred_chars = pred_in_gold = leaked = notes = keep_total = keep_kept = 0
    for rec in records:
        text = str(rec["text"])
        note_lang = str(rec.get("lang") or lang) if lang == "auto" else lang
        predicted = redactor.analyze(text, lang=note_lang)
        s = score_record(text, rec.get("spans") or [], predicted, rec.get("keep") or ())
        keep_total += s["keep_total"]
        keep_kept += s["keep_kept"]
        found.update(s["found_by_type"])
        total.update(s["total_by_type"])
        pred_chars += s["pred_chars"]
        pred_in_gold += s["pred_in_gold"]
        leaked += s["leaked"]
        notes += 1
    gold_spans = sum(total.values())
    keep_report = (
        {"keep_terms": keep_total, "keep_kept_share": round(keep_kept / keep_total, 4),
         "clinical_terms_lost_per_1000_notes": round(1000 * (keep_total - keep_kept) / notes, 1)}
        if keep_total and notes else {}
    )
    return {
        **keep_report,
        "notes": notes,
        "gold_spans": gold_spans,
        "span_recall": round(sum(found.values()) / gold_spans, 4) if gold_spans else 1.0,
        "char_precision": round(pred_in_gold / pred_chars, 4) if pred_chars else 1.0,
        "per_type_recall": {t: round(found[t] / total[t], 4) for t in sorted(total)},
        "per_type_count": {t: total[t] for t in sorted(total)},
        "leaked_gold_strings": leaked,
        "predicted_chars": pred_chars,
    }


# PhysioNet notes are split by patient: 1-60 may be looked at while writing rules (tuning), 61-80 only
# give figures (validation). Ids read "physionet-<patient>-<note>".
TUNE_LAST_PATIENT = 60
_PHYSIONET_ID = re.compile(r"^physionet-(\d+)-\d+$")
DEFAULT_PHYSIONET = Path("..") / "shared" / "data" / "physionet-deid-dev" / "physionet_dev.jsonl"


def physionet_part(record_id: str) -> str | None:
    """"tune" or "validation" for a PhysioNet note id, None for any other id."""
    m = _PHYSIONET_ID.match(record_id)
    if m is None:
        return None
    return "tune" if int(m.group(1)) <= TUNE_LAST_PATIENT else "validation"


def split_by_patient(records: Sequence[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    parts: dict[str, list[Mapping[str, Any]]] = {"tune": [], "validation": []}
    for rec in records:
        part = physionet_part(str(rec.get("id", "")))
        if part is not None:
            parts[part].append(rec)
    return parts


def _parts_report(records: Sequence[Mapping[str, Any]], redactor: Redactor, lang: str) -> dict[str, Any]:
    """The whole file, and when its ids are PhysioNet ids, the tuning and validation parts apart."""
    report = evaluate(records, redactor, lang=lang)
    parts = split_by_patient(records)
    if parts["tune"] or parts["validation"]:
        report["parts"] = {name: evaluate(recs, redactor, lang=lang) for name, recs in parts.items() if recs}
        report["split"] = f"patients 1-{TUNE_LAST_PATIENT} tune, {TUNE_LAST_PATIENT + 1}+ validation"
    return report


def suite(redactor: Redactor, *, physionet: Path | None = None, n_per_seed: int = 100) -> dict[str, Any]:
    """Every corpus: PhysioNet tune/validation (when the shared data is present), the independent Faker
    generator on tuning and held-out seeds (when Faker is installed), the project's own synthetic notes."""
    from deid.text import faker_notes, synthetic

    corpora: dict[str, Any] = {}
    path = physionet if physionet is not None else DEFAULT_PHYSIONET
    if path.exists():
        parts = split_by_patient(load_gold(path))
        for name, recs in parts.items():
            corpora[f"physionet-{name}"] = evaluate(recs, redactor, lang="en")
    else:
        corpora["physionet"] = {"skipped": "gold file not found", "file": str(path)}
    try:
        import faker  # noqa: F401
    except ImportError:
        corpora["faker"] = {"skipped": "faker not installed (dev extras)"}
    else:
        for lang in ("en", "zh"):
            for split, seeds in (("tune", faker_notes.TUNE_SEEDS), ("held-out", faker_notes.HELD_OUT_SEEDS)):
                recs = faker_notes.corpus(lang, seeds, n_per_seed)
                corpora[f"faker-{lang}-{split}"] = evaluate(recs, redactor, lang=lang)
    corpora["synthetic-en"] = evaluate(synthetic.english_notes(300), redactor, lang="en")
    corpora["synthetic-zh"] = evaluate(synthetic.chinese_notes(300), redactor, lang="zh")
    return {"corpora": corpora}


def run_suite(physionet: str | None = None) -> int:
    from deid.text.redactor import TextRedactor

    report = suite(TextRedactor(), physionet=Path(physionet) if physionet else None)
    print(json.dumps(report, sort_keys=True))
    return 0


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
    report = _parts_report(records, TextRedactor(), lang)
    report["gold_file"] = gold_path
    print(json.dumps(report, sort_keys=True))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m deid.text.evaluation", description=__doc__.splitlines()[0])
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--gold", help="JSON lines with id, text, spans")
    src.add_argument("--suite", action="store_true", help="every corpus: PhysioNet parts, Faker seeds, synthetic")
    parser.add_argument("--physionet", default=None, help="PhysioNet gold file for --suite")
    parser.add_argument("--lang", default="auto", choices=["auto", "en", "zh"])
    args = parser.parse_args(argv)
    return run_suite(args.physionet) if args.suite else run_cli(args.gold, args.lang)


if __name__ == "__main__":
    sys.exit(main())
