"""Drug names from a maintained dictionary: the `drug-named-entity-recognition` package (MIT; DrugBank open
data, MeSH and Wikipedia names, brand and generic), read from its bundled file without importing the package
(whose import pulls in more than we need).

Single-word names only ("levodopa", "apixaban", "tamsulosin"); a word that is also a US Census first or last
name ("Allegra", "Wilson") is left out here: for such words a clinical context or the hand-checked allow-list
decides, so a person named like a drug is not kept by default. Optional: without the package the set is empty.
"""

from __future__ import annotations

import bz2
import importlib.util
import pickle  # noqa: S403 - a file shipped inside a pinned PyPI package, never user input
import re
from functools import lru_cache
from pathlib import Path

_WORD = re.compile(r"^[a-z][a-z\-]{3,}$")


@lru_cache(maxsize=1)
def drug_words() -> frozenset[str]:
    spec = importlib.util.find_spec("drug_named_entity_recognition")
    if spec is None or not spec.submodule_search_locations:
        return frozenset()
    path = Path(next(iter(spec.submodule_search_locations))) / "drug_ner_dictionary.pkl.bz2"
    if not path.exists():
        return frozenset()
    with bz2.open(path) as fh:
        data = pickle.load(fh)  # noqa: S301
    from deid.text.lexicon import name_lexicon

    census = name_lexicon().census
    words = {v for v in data.get("drug_variant_to_canonical", {}) if isinstance(v, str) and _WORD.match(v)}
    return frozenset(w for w in words if w not in census)
