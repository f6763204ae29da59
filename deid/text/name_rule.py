"""Person names in English notes without spaCy NER: census dictionaries plus clinical-note contexts.

Seeds, then expansion:
- a rare census name on its own ("Nicholson", "Marotta"); everyday words need a context;
- after a title ("Dr.", "DR'S", "Mr", "Mrs.", "Miss");
- before a credential at the end of a signature ("Jean Hudson, RN", "WARREN KAVALIUNAS NP");
- after a relation word ("son bill", "daughter Thelma", "wife, Carol Buckley", "husband milovan");
- an initial before a name ("W. MAROTTA").
A seed grows over adjacent census names and initials ("EDWARD C. JONES", "mary theresa kondouli").
Works the same on UPPER-CASE text: nothing depends on capitalisation. Eponyms, drugs and units from the
allow-list never seed without a title.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from deid.text.allowlist import ALLOWED_TERMS, CLINICAL_WORDS, eponym_phrase_spans
from deid.text.casing import is_mixed_case
from deid.text.lexicon import NameLexicon, common_words, name_lexicon
from deid.text.rule import Hit

_TOKEN = re.compile(r"[^\W\d_](?:(?:[^\W\d_]|')*[^\W\d_])?")  # letters of any Latin-script language ("Szöllössy")

TITLES = frozenset(
    "dr dr's drs doctor mr mrs ms miss mister mx prof professor nurse rev reverend sr sister fr father rabbi "
    "chaplain pastor imam".split()
)
# after these a name follows only when the next word is a census name ("sister Mary" but not "sister in law")
SOFT_TITLES = frozenset("sister father nurse sr fr".split())
CREDENTIALS = frozenset(
    "rn rrt np md pa pa-c lpn cna msw licsw lcsw rd rph pharmd crna cnm aprn bsn msn phd do ccrn mba "
    "slp otr pt-a".split()
)
RELATIONS = frozenset(
    """
    wife husband spouse son sons daughter daughters dtr dtrs dau mother mom father dad sister sis brother bro
    niece neice nephew grandson granddaughter grandaughter granddtr grandchild aunt uncle cousin friend friends
    girlfriend boyfriend fiance fiancee partner proxy hcp guardian neighbor neighbour stepson stepdaughter caregiver
    son-in-law daughter-in-law dtr-in-law sister-in-law brother-in-law mother-in-law father-in-law sil dil
    """.split()
)
# words that never belong to a name even when a census list has them
_FUNCTION = frozenset(
    """
    a an the and or but of in on at to from by for with without per via is was were are be been being has had
    have will would can could should may might must this that these those his her him he she they them their
    its it we our you your i me my not no yes as so if then than also still just very well all any each
    both other some such own same few more most aware notified called paged spoke informed updated made
    here there when while who whom which what where why how re rm room bed visit visited called
    """.split()
)


_CREDENTIAL = re.compile(
    r"(?P<pre>)(?:,\s*|\s+)(?:rn|r\.n\.|rrt|crt|np|md|m\.d\.|pa-c|lpn|cna|msw|licsw|licws|lcsw|rd|rph|pharmd|crna|"
    r"cnm|aprn|bsn|msn|ccrn|slp|otr|phd)\b\.?",
    re.IGNORECASE,
)
_PHONE_WORDS = frozenset("cell home work tel phone ph pager beeper office fax mobile number no call at reached".split())
# "Vladimir Erickson - 989-290-8303", "Lopie Certusi cell# 410-322-1419", "Carol Buckley (201/324/1423)"
_BEFORE_PHONE = re.compile(
    r"(?P<name>[A-Za-z][A-Za-z']+)[ \t]*(?:[-:,(][ \t]*|(?:cell|home|work|tel|phone|ph)[ \t]*#?:?[ \t]*)?"
    r"\(?\d{3}\)?[ \t]?[.\-/ ][ \t]?\d{3}[ \t]?[.\-/ ][ \t]?\d{4}(?!\d)",
    re.IGNORECASE,
)
_REPORTED = frozenset("aware notified paged informed".split())
# a first name right before one of these is a person talking or visiting ("Emily reports", "george called")
_SPEECH = frozenset(
    """
    called calls reports reported states stated wishes wished verbalizes verbalized visited visits spoke speaks
    says said asked asks agrees agreed expressed expresses understands requests requested consented consents
    declined declines phoned arrived left wants wanted feels felt believes prefers
    """.split()
)
_CLINICIAN_VERBS = frozenset("ordered aware notified paged called saw examined placed wrote consulted".split())
_ADDRESSED = frozenset("with to reach reached and".split())


FACILITY_HINTS = frozenset("hospital hosp memorial medical center rehab house clinic campus".split())

_LINE_END = re.compile(r"[ \t]*(?:[,.;)][ \t]*)?(?:\r?\n|$)")


def _ends_line(text: str, pos: int) -> bool:
    """A signature credential ends its line ("Jean Hudson, RN\n"), unlike "PA line" or "see MD orders"."""
    return _LINE_END.match(text, pos) is not None


@dataclass(frozen=True)
class _Tok:
    start: int
    end: int
    low: str


class NameRule:
    name = "person-names"

    def __init__(self, lexicon: NameLexicon | None = None) -> None:
        self.lex = lexicon if lexicon is not None else name_lexicon()
        self.common = common_words()
        self.very_common = common_words(1500)
        self.common12 = common_words(12_000)

    # token classes ---------------------------------------------------------------------------------------
    def _blocked(self, low: str) -> bool:
        return low in _FUNCTION or low in CLINICAL_WORDS or low in ALLOWED_TERMS or low in RELATIONS or low in TITLES

    def _namey(self, low: str) -> bool:
        """Could be part of a name next to a seed: a census name or an initial, not a function/clinical word."""
        if len(low) == 1:
            return True
        return not self._blocked(low) and self.lex.is_name(low)

    def _grows(self, i: int, toks: list[_Tok], text: str, mixed: bool) -> bool:
        """May token i join an adjacent name? An initial written with a period, or a census name that is not
        an everyday English word."""
        low = toks[i].low
        if len(low) == 1:
            return text[toks[i].end : toks[i].end + 1] == "."
        if mixed and text[toks[i].start].isupper() and self._unknown(low) and low not in self.common:
            return True
        if not self._namey(low):
            return False
        return low not in self.very_common or self.lex.is_rare_name(low) or low in self.lex.first

    def _unknown(self, low: str) -> bool:
        """Not an English word we know: after a strong context it is taken as a name."""
        return len(low) >= 3 and not self._blocked(low) and low not in self.common

    # -----------------------------------------------------------------------------------------------------
    def find(self, text: str) -> Iterable[Hit]:
        # words glued to digits ("MSO4", "FiO2", "x2") are never names
        toks = [
            _Tok(m.start(), m.end(), m.group().lower())
            for m in _TOKEN.finditer(text)
            if not (m.end() < len(text) and text[m.end()].isdigit()) and not (m.start() > 0 and text[m.start() - 1].isdigit())
        ]
        if not toks:
            return []
        n = len(toks)
        seed = [0.0] * n
        eponyms = {s for s, _ in eponym_phrase_spans(text)}
        lex = self.lex

        def gap(i: int) -> str:  # text between token i and token i+1
            return text[toks[i].end : toks[i + 1].start]

        def joined(i: int) -> bool:  # token i and i+1 written as parts of one name
            g = gap(i)
            return g in (" ", "  ", "-") or (len(toks[i].low) == 1 and g in (". ", ".", ".  ", " . "))

        def person_word(low: str) -> bool:  # a census name or an unknown word, not clinical/function
            return not self._blocked(low) and (lex.is_name(low) or low not in self.common) and len(low) > 1

        def mark(i: int, score: float) -> None:
            if toks[i].start not in eponyms:
                seed[i] = max(seed[i], score)

        def standalone_initial(i: int) -> bool:
            st = toks[i].start
            return (st == 0 or text[st - 1] in " \t\n(,;") and text[st].isupper()

        ends_by_pos = {t.end: k for k, t in enumerate(toks)}
        mixed = is_mixed_case(text)
        for m in _CREDENTIAL.finditer(text):
            k = ends_by_pos.get(m.start("pre"))
            if k is None:
                continue
            low = toks[k].low
            at_line_end = _ends_line(text, m.end())
            if len(low) == 1 or (person_word(low) and (at_line_end or low not in self.common12)):
                mark(k, 0.8)
            elif at_line_end and low in lex.census and low not in _FUNCTION:  # "Bernard Foley CRT"
                mark(k, 0.8)

        for m in _BEFORE_PHONE.finditer(text):
            k = ends_by_pos.get(m.end("name"))
            for j in (k, k - 1 if k else None):
                if j is None or j < 0:
                    continue
                low = toks[j].low
                titled = mixed and text[toks[j].start].isupper()
                if person_word(low) and (low not in self.common12 or titled) and low not in _PHONE_WORDS:
                    mark(j, 0.7)
                else:
                    break

        for i, t in enumerate(toks):
            low = t.low
            prev = toks[i - 1].low if i > 0 else ""
            prev_gap = gap(i - 1) if i > 0 else ""
            nxt = toks[i + 1].low if i + 1 < n else ""
            # rare census name on its own
            if len(low) >= 3 and lex.is_rare_name(low) and low not in self.common12 and not self._blocked(low):
                mark(i, 0.6)
            # Irish O' names: "O'connell", "O'Rourke", "o'driscoll" (not "o'clock")
            if low.startswith("o'") and len(low) > 4 and low != "o'clock" and (lex.is_name(low[2:]) or lex.is_name("o" + low[2:])):
                mark(i, 0.75)
            # "J SMITH ORDERED": an initial without a period, a census surname, then a clinician's verb
            if (
                len(low) == 1
                and low not in ("a", "i")
                and standalone_initial(i)
                and i + 2 < n
                and gap(i) == " "
                and lex.is_name(toks[i + 1].low)
                and not self._blocked(toks[i + 1].low)
                and toks[i + 2].low in _CLINICIAN_VERBS
            ):
                mark(i, 0.7)
                mark(i + 1, 0.7)
            # after a title: up to two name words ("Dr. Ferdinand Halfpenny", "DR HOARD")
            # a nurse or practitioner named by first name: "RN (Edward)", "NP grace made aware"
            if prev in ("rn", "np", "lpn") and prev_gap in (" ", " (") and low in lex.first and not self._blocked(low):
                mark(i, 0.75)
            if prev in TITLES and prev_gap in (" ", "  ", ". ", ".", ".  ") and mixed and low in lex.census:
                if text[t.start].isupper() and not text[t.start : t.end].isupper():  # "Dr Will Cole"
                    mark(i, 0.9)
            if prev in TITLES and prev_gap in (" ", "  ", ". ", ".", ".  "):
                title_text = text[toks[i - 1].start : toks[i - 1].end]
                if prev in SOFT_TITLES or (prev == "ms" and title_text == "MS") or (mixed and title_text.isupper()):
                    if lex.is_name(low) and not self._blocked(low) and len(low) > 1:
                        mark(i, 0.8)
                elif not (low in _FUNCTION or low in CLINICAL_WORDS and low not in lex.census):
                    mark(i, 0.9)
                    if i + 1 < n and joined(i) and person_word(toks[i + 1].low):
                        mark(i + 1, 0.85)
            # after a relation word ("son bill", "wife, Carol", "son: Vladimir")
            if prev in RELATIONS and "\n" not in prev_gap and len(prev_gap.strip(" ,:;(-\"'")) == 0:
                if (low in lex.first and not self._blocked(low)) or self._unknown(low) or lex.is_rare_name(low):
                    mark(i, 0.8)
                elif lex.is_name(low) and not self._blocked(low) and low not in self.very_common:
                    mark(i, 0.75)  # "Sons Smokey, Morris and Roger"
            # "Dr. Rakusin and Toolis", "DR CAMARDA AND CLIFFORD", "Sons Smokey, Morris and Roger"
            if i >= 2 and seed[i - 2] >= 0.8 and person_word(low) and (
                (prev in ("and", "&") and gap(i - 2) == " ") or (i >= 1 and seed[i - 1] >= 0.8 and gap(i - 1).strip() == ",")
            ):
                mark(i, 0.8)
            if i >= 1 and seed[i - 1] >= 0.8 and gap(i - 1).strip() == "," and "\n" not in gap(i - 1):
                if toks[i - 2].low in RELATIONS if i >= 2 else False:
                    if (low in lex.first and not self._blocked(low)) or self._unknown(low):
                        mark(i, 0.8)
            # "Patient John ...", "pt Mary ...": a first name right after the word patient
            if prev in ("patient", "pt", "pt.") and prev_gap == " " and low in lex.first and not self._blocked(low):
                if not mixed or text[t.start].isupper():
                    mark(i, 0.7)
            # "URSLA MORETTI (DAUGHTER)": a name right before a parenthesised relation
            if nxt in RELATIONS and gap(i).strip() in ("(", "-", "- (", "(") and person_word(low):
                if lex.is_name(low) or low not in self.common:
                    mark(i, 0.75)
            # "my name is Rubija", "Name: Siiri Jensen", "named Alma"
            if (prev == "is" and i >= 2 and toks[i - 2].low == "name") or prev in ("named", "name", "signed"):
                if not self._blocked(low) and low not in self.very_common and prev_gap in (" ", ": ", ":"):
                    mark(i, 0.8)
            # a first name before a speech verb ("Emily reports", "george called", "JOHN STATES")
            if nxt in _SPEECH and gap(i) == " " and low in lex.first and len(low) >= 3 and not self._blocked(low):
                mark(i, 0.7)
            # mixed-case prose: a capitalised first name or unknown word after "with/to/reach" ("with Radu")
            lower_note = not mixed and not text[t.start].isupper()
            if not mixed and prev in ("with", "reach", "reached") and low in lex.first and low not in self.very_common:
                mark(i, 0.6)
            acronym = sum(1 for c in text[t.start : t.end] if c.isupper()) > 1
            if prev in _ADDRESSED and text[t.start].isupper() and not acronym and mixed and not self._blocked(low):
                if (low in lex.first and low not in self.very_common) or (self._unknown(low) and low not in self.common):
                    if not (i + 1 < n and toks[i + 1].low in FACILITY_HINTS):
                        mark(i, 0.6)
            # a name right before "aware" / "notified" ("BEA TURA AWARE", "NP grace made aware")
            if nxt in _REPORTED and i + 1 < n and gap(i) == " " and person_word(low):
                if lex.is_name(low) or low not in self.common:
                    mark(i, 0.7)
            # initial + census name ("E. WELSH", "Z. MILLER"), not a bacterium ("E. coli")
            standalone = t.start == 0 or text[t.start - 1] in " \t\n(,;-"
            line_start = text[max(0, t.start - 3) : t.start].strip(" \t") in ("", "\n") or text[t.start - 1 : t.start] == "\n"
            if low in "soap" and line_start:
                standalone = False  # "S." "O." "A." "P." open SOAP sections
            if len(low) == 1 and low not in ("a", "i") and standalone and i + 1 < n and gap(i) in (". ", "."):
                nl = toks[i + 1].low
                nl_titled = mixed and text[toks[i + 1].start].isupper()
                if len(nl) > 1 and not self._blocked(nl) and lex.is_name(nl) and (nl_titled or nl not in self.common12 or nl in lex.last):
                    mark(i, 0.7)
                    mark(i + 1, 0.7)
            # first name + surname ("Joyce Jacobson", "RICHARD GAYLORD")
            if (
                i + 1 < n
                and gap(i) == " "
                and low in lex.first
                and not self._blocked(low)
                and person_word(nxt)
                and (lex.is_name(nxt) or nxt not in self.common)
                and nxt not in self.very_common
            ):
                a, b = text[t.start], text[toks[i + 1].start]
                titled = mixed and a.isupper() and b.isupper() and not text[t.start : t.end].isupper()
                if titled or (not mixed and low not in self.common12):
                    mark(i, 0.65)
                    mark(i + 1, 0.65)

        # a first name alone on the note's last line is a signature ("SUSAN")
        tail = text.rstrip()
        if toks and tail.endswith(text[toks[-1].start : toks[-1].end]):
            before = text[: toks[-1].start].rstrip(" \t")
            if (not before or before[-1] in ".\n") and toks[-1].low in lex.first and not self._blocked(toks[-1].low):
                mark(n - 1, 0.7)

        # expansion over adjacent name parts, then emit maximal runs
        marked = [s > 0 for s in seed]
        changed = True
        while changed:
            changed = False
            for i in range(n):
                if not marked[i]:
                    continue
                if i + 1 < n and not marked[i + 1] and joined(i) and (
                    self._grows(i + 1, toks, text, mixed) or (seed[i] >= 0.7 and self._unknown(toks[i + 1].low))
                ):
                    if toks[i + 1].low not in CREDENTIALS and toks[i + 1].start not in eponyms:
                        marked[i + 1] = True
                        seed[i + 1] = max(seed[i + 1], 0.6)
                        changed = True
                if i > 0 and not marked[i - 1] and joined(i - 1) and (
                    self._grows(i - 1, toks, text, mixed) or (seed[i] >= 0.7 and self._unknown(toks[i - 1].low))
                ):
                    if toks[i - 1].low not in TITLES and toks[i - 1].low not in RELATIONS:
                        marked[i - 1] = True
                        seed[i - 1] = max(seed[i - 1], 0.6)
                        changed = True
        hits: list[Hit] = []
        i = 0
        while i < n:
            if not marked[i]:
                i += 1
                continue
            j = i
            while j + 1 < n and marked[j + 1] and joined(j):
                j += 1
            # a lone initial is not a name
            if not (i == j and len(toks[i].low) == 1 and seed[i] < 0.9):
                hits.append(Hit(toks[i].start, toks[j].end, "PERSON", max(seed[i : j + 1])))
            i = j + 1
        return hits
