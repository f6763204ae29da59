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
from deid.text.drug_vocabulary import drug_words
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


# words after which "First Last" is a person in any case ("Seen by John Smith", "Pt John Smith", "per Mary Jones")
_PERSON_CUES = frozenset(
    "by with per pt patient patient: name saw see seen cc attending resident provider pcp np rn md dr "
    "and called contacted spoke informed notified paged discussed".split()
)
# two-letter abbreviations that are written like initials ("p.o.", "a.m.") and are not names
_NOT_INITIALS = frozenset(
    "po pr qd am pm iv im sq sc dc od os ou ad as au ac pc hs bm ns gi gu er ed us uk eg ie vs cc md rn np pa dr mr "
    "ms st jr sr lt rt ok ot pt nc tv mg ml ph qs rx dx hx tx sx fx cx bx ct bp hr rr oz lb kg cm mm ab ob gyn "
    "ap ll lr ua uo bs cv id mi hb rx sp pe re co ho ci yo or no wt ht sob ou".split()
)


_HARD_TITLES = frozenset("dr doctor mr mrs miss".split())
_MONTH_NAMES = frozenset("april may june august".split())  # also first names ("Seen by April Campbell")


@dataclass
class _Scan:
    """One note being scanned: its tokens, their seed scores, and helpers over the gaps between tokens."""

    text: str
    toks: list[_Tok]
    eponyms: set[int]
    mixed: bool
    seed: list[float]

    @property
    def n(self) -> int:
        return len(self.toks)

    def gap(self, i: int) -> str:  # text between token i and token i+1
        return self.text[self.toks[i].end : self.toks[i + 1].start]

    def joined(self, i: int) -> bool:  # token i and i+1 written as parts of one name
        g = self.gap(i)
        return g in (" ", "  ", "-") or (len(self.toks[i].low) == 1 and g in (". ", ".", ".  ", " . "))

    def mark(self, i: int, score: float) -> None:
        if self.toks[i].start not in self.eponyms:
            self.seed[i] = max(self.seed[i], score)

    def word(self, i: int) -> str:
        return self.text[self.toks[i].start : self.toks[i].end]

    def low(self, i: int) -> str:
        return self.toks[i].low if 0 <= i < self.n else ""


class NameRule:
    name = "person-names"

    def __init__(self, lexicon: NameLexicon | None = None) -> None:
        self.lex = lexicon if lexicon is not None else name_lexicon()
        self.common = common_words()
        self.very_common = common_words(1500)
        self.common12 = common_words(12_000)
        self.drugs = drug_words()

    # token classes ---------------------------------------------------------------------------------------
    def _blocked(self, low: str) -> bool:
        return (
            low in _FUNCTION or low in CLINICAL_WORDS or low in ALLOWED_TERMS or low in RELATIONS or low in TITLES
            or low in self.drugs
        )

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
    def _person_word(self, low: str) -> bool:  # a census name or an unknown word, not clinical/function
        return not self._blocked(low) and (self.lex.is_name(low) or low not in self.common) and len(low) > 1

    def find(self, text: str) -> Iterable[Hit]:
        # words glued to digits ("MSO4", "FiO2", "x2") are never names
        toks = [
            _Tok(m.start(), m.end(), m.group().lower())
            for m in _TOKEN.finditer(text)
            if not (m.end() < len(text) and text[m.end()].isdigit()) and not (m.start() > 0 and text[m.start() - 1].isdigit())
        ]
        if not toks:
            return []
        sc = _Scan(text, toks, {s for s, _ in eponym_phrase_spans(text)}, is_mixed_case(text), [0.0] * len(toks))
        self._seed_credentials(sc)
        self._seed_before_phone(sc)
        for i in range(sc.n):
            self._seed_alone(sc, i)
            self._seed_titles(sc, i)
            self._seed_relations(sc, i)
            self._seed_speech(sc, i)
            self._seed_initials(sc, i)
            self._seed_full_names(sc, i)
        self._seed_signature(sc)
        marked = self._expand(sc)
        return self._emit(sc, marked)

    # seeds -----------------------------------------------------------------------------------------------
    def _seed_credentials(self, sc: _Scan) -> None:
        """"Jean Hudson, RN" at a line end; "Bernard Foley CRT"."""
        ends_by_pos = {t.end: k for k, t in enumerate(sc.toks)}
        for m in _CREDENTIAL.finditer(sc.text):
            k = ends_by_pos.get(m.start("pre"))
            if k is None:
                continue
            low = sc.toks[k].low
            at_line_end = _ends_line(sc.text, m.end())
            if len(low) == 1 or (self._person_word(low) and (at_line_end or low not in self.common12)):
                sc.mark(k, 0.8)
            elif at_line_end and low in self.lex.census and low not in _FUNCTION:
                sc.mark(k, 0.8)

    def _seed_before_phone(self, sc: _Scan) -> None:
        """"Vladimir Erickson - 989-290-8303", "Lopie Certusi cell# 410-322-1419"."""
        ends_by_pos = {t.end: k for k, t in enumerate(sc.toks)}
        for m in _BEFORE_PHONE.finditer(sc.text):
            k = ends_by_pos.get(m.end("name"))
            for j in (k, k - 1 if k else None):
                if j is None or j < 0:
                    continue
                low = sc.toks[j].low
                titled = sc.mixed and sc.text[sc.toks[j].start].isupper()
                if self._person_word(low) and (low not in self.common12 or titled) and low not in _PHONE_WORDS:
                    sc.mark(j, 0.7)
                else:
                    break

    def _seed_alone(self, sc: _Scan, i: int) -> None:
        """A rare census name on its own; Irish O' names; "J SMITH ORDERED"; a name before "aware"."""
        low, lex, text, t = sc.toks[i].low, self.lex, sc.text, sc.toks[i]
        if len(low) >= 3 and lex.is_rare_name(low) and low not in self.common12 and not self._blocked(low):
            sc.mark(i, 0.6)
        if low.startswith("o'") and len(low) > 4 and low != "o'clock" and (lex.is_name(low[2:]) or lex.is_name("o" + low[2:])):
            sc.mark(i, 0.75)
        standalone = (t.start == 0 or text[t.start - 1] in " \t\n(,;") and text[t.start].isupper()
        if (
            len(low) == 1 and low not in ("a", "i") and standalone and i + 2 < sc.n and sc.gap(i) == " "
            and lex.is_name(sc.low(i + 1)) and not self._blocked(sc.low(i + 1)) and sc.low(i + 2) in _CLINICIAN_VERBS
        ):
            sc.mark(i, 0.7)
            sc.mark(i + 1, 0.7)
        if sc.low(i + 1) in _REPORTED and sc.gap(i) == " " and self._person_word(low):
            if lex.is_name(low) or low not in self.common:
                sc.mark(i, 0.7)
        # "my name is Rubija", "Name: Siiri Jensen", "named Alma"
        prev, prev_gap = sc.low(i - 1), sc.gap(i - 1) if i > 0 else ""
        if (prev == "is" and sc.low(i - 2) == "name") or prev in ("named", "name", "signed"):
            if not self._blocked(low) and low not in self.very_common and prev_gap in (" ", ": ", ":"):
                sc.mark(i, 0.8)

    def _seed_titles(self, sc: _Scan, i: int) -> None:
        """After a title: up to two name words ("Dr. Ferdinand Halfpenny", "DR HOARD"); "RN (Edward)"."""
        low, lex, text, t = sc.toks[i].low, self.lex, sc.text, sc.toks[i]
        prev, prev_gap = sc.low(i - 1), sc.gap(i - 1) if i > 0 else ""
        if prev in ("rn", "np", "lpn") and prev_gap in (" ", " (") and low in lex.first and not self._blocked(low):
            sc.mark(i, 0.75)
        if prev not in TITLES or prev_gap not in (" ", "  ", ". ", ".", ".  "):
            return
        if sc.mixed and low in lex.census and text[t.start].isupper() and not sc.word(i).isupper():  # "Dr Will Cole"
            sc.mark(i, 0.9)
        after = text[t.end : t.end + 2]
        if prev in _HARD_TITLES and low in lex.census and (after[:1] in (".", ",", ";", ")", "") or after == "\n"):
            sc.mark(i, 0.85)  # "Dr. May.", "DR. MAY," (a month or function word otherwise)
        title_text = sc.word(i - 1)
        if prev in SOFT_TITLES or (prev == "ms" and title_text == "MS") or (sc.mixed and title_text.isupper()):
            if lex.is_name(low) and not self._blocked(low) and len(low) > 1:
                sc.mark(i, 0.8)
        elif not (low in _FUNCTION or low in CLINICAL_WORDS and low not in lex.census):
            sc.mark(i, 0.9)
            if i + 1 < sc.n and sc.joined(i) and self._person_word(sc.low(i + 1)):
                sc.mark(i + 1, 0.85)

    def _seed_relations(self, sc: _Scan, i: int) -> None:
        """"son bill", "wife, Carol", "Sons Smokey, Morris and Roger", "URSLA MORETTI (DAUGHTER)"."""
        low, lex, seed = sc.toks[i].low, self.lex, sc.seed
        prev, prev_gap = sc.low(i - 1), sc.gap(i - 1) if i > 0 else ""
        if prev in RELATIONS and "\n" not in prev_gap and len(prev_gap.strip(" ,:;(-\"'")) == 0:
            titled = sc.mixed and sc.text[sc.toks[i].start].isupper() and not sc.word(i).isupper()
            if titled and low in lex.census and low not in _FUNCTION:
                sc.mark(i, 0.8)  # "Husband Brady", "son Will"
            if (low in lex.first and not self._blocked(low)) or self._unknown(low) or lex.is_rare_name(low):
                sc.mark(i, 0.8)
            elif lex.is_name(low) and not self._blocked(low) and low not in self.very_common:
                sc.mark(i, 0.75)
        if i >= 2 and seed[i - 2] >= 0.8 and self._person_word(low) and (
            (prev in ("and", "&") and sc.gap(i - 2) == " ") or (seed[i - 1] >= 0.8 and sc.gap(i - 1).strip() == ",")
        ):
            sc.mark(i, 0.8)
        if i >= 2 and seed[i - 1] >= 0.8 and sc.gap(i - 1).strip() == "," and "\n" not in sc.gap(i - 1):
            if sc.low(i - 2) in RELATIONS and ((low in lex.first and not self._blocked(low)) or self._unknown(low)):
                sc.mark(i, 0.8)
        if sc.low(i + 1) in RELATIONS and sc.gap(i).strip() in ("(", "-", "- (") and self._person_word(low):
            if lex.is_name(low) or low not in self.common:
                sc.mark(i, 0.75)

    def _seed_speech(self, sc: _Scan, i: int) -> None:
        """"Patient John ...", "Emily reports", "with Radu": a first name in a speaking or addressed role."""
        low, lex, text, t = sc.toks[i].low, self.lex, sc.text, sc.toks[i]
        prev, prev_gap = sc.low(i - 1), sc.gap(i - 1) if i > 0 else ""
        if prev in ("patient", "pt", "pt.") and prev_gap == " " and low in lex.first and not self._blocked(low):
            if not sc.mixed or text[t.start].isupper():
                sc.mark(i, 0.7)
        if sc.low(i + 1) in _SPEECH and sc.gap(i) == " " and low in lex.first and len(low) >= 3 and not self._blocked(low):
            sc.mark(i, 0.7)
        if not sc.mixed and prev in ("with", "reach", "reached") and low in lex.first and low not in self.very_common:
            sc.mark(i, 0.6)
        acronym = sum(1 for c in sc.word(i) if c.isupper()) > 1
        if prev in _ADDRESSED and text[t.start].isupper() and not acronym and sc.mixed and not self._blocked(low):
            if (low in lex.first and low not in self.very_common) or (self._unknown(low) and low not in self.common):
                if sc.low(i + 1) not in FACILITY_HINTS:
                    sc.mark(i, 0.6)

    def _seed_initials(self, sc: _Scan, i: int) -> None:
        """"E. WELSH", "A. Harvey" (not "E. coli"); "J.C." / "t.n." written as initials."""
        low, lex, text, t = sc.toks[i].low, self.lex, sc.text, sc.toks[i]
        if len(low) != 1 or i + 1 >= sc.n:
            return
        standalone = t.start == 0 or text[t.start - 1] in " \t\n(,;-"
        line_start = text[max(0, t.start - 3) : t.start].strip(" \t") in ("", "\n") or text[t.start - 1 : t.start] == "\n"
        if low in "soap" and line_start:
            standalone = False  # "S." "O." "A." "P." open SOAP sections
        nl = sc.low(i + 1)
        nl_titled = sc.mixed and text[sc.toks[i + 1].start].isupper()
        if standalone and sc.gap(i) in (". ", ".") and len(nl) > 1 and not self._blocked(nl) and lex.is_name(nl):
            a_ok = low not in ("a", "i") or (nl_titled and nl in lex.last) or (
                low == "a" and sc.low(i - 1) in _PERSON_CUES and nl in lex.top_last
            )
            if a_ok and (
                nl_titled or nl not in self.common12 or nl in lex.last
            ):
                sc.mark(i, 0.7)
                sc.mark(i + 1, 0.7)
        # "J.C.", "K.B.": two initials written with periods, not an abbreviation ("p.o.", "a.m.")
        if standalone and sc.gap(i) == "." and len(nl) == 1 and text[sc.toks[i + 1].end : sc.toks[i + 1].end + 1] == ".":
            after = text[sc.toks[i + 1].end + 1 : sc.toks[i + 1].end + 2]
            if low + nl not in _NOT_INITIALS and not after.isalpha() and (text[t.start].isupper() or not sc.mixed):
                sc.seed[i] = max(sc.seed[i], 0.9)
                sc.seed[i + 1] = max(sc.seed[i + 1], 0.9)

    def _seed_full_names(self, sc: _Scan, i: int) -> None:
        """"Joyce Jacobson", "Seen by John Smith", "SMITH, JOHN Q.", "Amy \"Junior\" Mercado"."""
        low, lex, text, t = sc.toks[i].low, self.lex, sc.text, sc.toks[i]
        if i + 1 >= sc.n:
            return
        nxt = sc.low(i + 1)
        cued = sc.low(i - 1) in _PERSON_CUES or i == 0 or "\n" in (sc.gap(i - 1) if i > 0 else "\n")
        # "Seen by April Campbell", "DAKOTA JENKINS ADMITTED": after a person cue, a census first name (months
        # included) and a frequent surname
        first_ok = low in _MONTH_NAMES or (low in lex.census and not self._blocked(low))
        surname_ok = (nxt not in self.very_common and nxt in lex.top_last) or (
            low in lex.top_first and nxt in lex.census and (nxt not in self.very_common or nxt in ALLOWED_TERMS)
        )
        if cued and sc.gap(i) == " " and surname_ok and first_ok:  # "NATHAN FOLEY ADMITTED": eponyms as surnames
            if not sc.mixed or (text[t.start].isupper() and text[sc.toks[i + 1].start].isupper()):
                sc.mark(i, 0.7)
                sc.mark(i + 1, 0.7)
        both_titled = sc.mixed and text[t.start].isupper() and text[sc.toks[i + 1].start].isupper() and not sc.word(i).isupper()
        if cued and both_titled and sc.gap(i) == " " and low in lex.top_first and nxt in lex.census and nxt not in _FUNCTION:
            sc.mark(i, 0.7)
            sc.mark(i + 1, 0.7)
        # "Smith, John" / "SMITH, JOHN Q.": a census surname, a comma, a census first name
        if sc.gap(i) == ", " and (low in lex.last or low in lex.census and low in ALLOWED_TERMS) and (nxt in lex.first and not self._blocked(nxt) or nxt in _MONTH_NAMES):
            initial = i + 2 < sc.n and len(sc.low(i + 2)) == 1 and sc.gap(i + 1) == " "
            rare = low not in self.common12 or nxt not in self.common12
            if cued or initial or rare:
                sc.mark(i, 0.75)
                sc.mark(i + 1, 0.75)
                if initial:
                    sc.mark(i + 2, 0.75)
        if self._blocked(low):
            return
        if sc.gap(i) == " " and low in lex.first and self._person_word(nxt) and lex.is_name(nxt) | (nxt not in self.common):
            a, b = text[t.start], text[sc.toks[i + 1].start]
            titled = sc.mixed and a.isupper() and b.isupper() and not sc.word(i).isupper()
            if nxt not in self.very_common and (titled or (not sc.mixed and low not in self.common12)):
                sc.mark(i, 0.65)
                sc.mark(i + 1, 0.65)
            elif cued and low in lex.top_first and (nxt in lex.top_last or nxt in lex.top_first) and (titled or not sc.mixed):
                sc.mark(i, 0.7)
                sc.mark(i + 1, 0.7)
        # a nickname in quotes between first and last name
        if low in lex.first and i + 2 < sc.n and sc.gap(i).strip() == '"' and sc.gap(i + 1).strip() == '"':
            if lex.is_name(sc.low(i + 2)) or sc.low(i + 2) not in self.common:
                for j in (i, i + 1, i + 2):
                    sc.seed[j] = max(sc.seed[j], 0.8)

    def _seed_signature(self, sc: _Scan) -> None:
        """A first name alone on the note's last line is a signature ("SUSAN")."""
        toks, text = sc.toks, sc.text
        if text.rstrip().endswith(text[toks[-1].start : toks[-1].end]):
            before = text[: toks[-1].start].rstrip(" \t")
            if (not before or before[-1] in ".\n") and toks[-1].low in self.lex.first and not self._blocked(toks[-1].low):
                sc.mark(sc.n - 1, 0.7)

    # growth and output -----------------------------------------------------------------------------------
    def _may_join(self, sc: _Scan, i: int, j: int) -> bool:
        """May token j join the marked neighbour i?"""
        return self._grows(j, sc.toks, sc.text, sc.mixed) or (sc.seed[i] >= 0.7 and self._unknown(sc.toks[j].low))

    def _expand(self, sc: _Scan) -> list[bool]:
        """A seed grows over adjacent census names and initials ("EDWARD C. JONES")."""
        marked = [s > 0 for s in sc.seed]
        toks, n = sc.toks, sc.n
        changed = True
        while changed:
            changed = False
            for i in range(n):
                if not marked[i]:
                    continue
                if i + 1 < n and not marked[i + 1] and sc.joined(i) and self._may_join(sc, i, i + 1):
                    if toks[i + 1].low not in CREDENTIALS and toks[i + 1].start not in sc.eponyms:
                        marked[i + 1] = True
                        sc.seed[i + 1] = max(sc.seed[i + 1], 0.6)
                        changed = True
                if i > 0 and not marked[i - 1] and sc.joined(i - 1) and self._may_join(sc, i, i - 1):
                    if toks[i - 1].low not in TITLES and toks[i - 1].low not in RELATIONS:
                        marked[i - 1] = True
                        sc.seed[i - 1] = max(sc.seed[i - 1], 0.6)
                        changed = True
        return marked

    def _emit(self, sc: _Scan, marked: list[bool]) -> list[Hit]:
        hits: list[Hit] = []
        toks, seed, n = sc.toks, sc.seed, sc.n
        i = 0
        while i < n:
            if not marked[i]:
                i += 1
                continue
            j = i
            while j + 1 < n and marked[j + 1] and (sc.joined(j) or self._quoted_nickname(sc, j)):
                j += 1
            # a lone initial is not a name
            if not (i == j and len(toks[i].low) == 1 and seed[i] < 0.9):
                end = toks[j].end
                if len(toks[j].low) == 1 and sc.text[end : end + 1] == ".":
                    end += 1  # "J.C." and "Michael K." keep their last period
                hits.append(Hit(toks[i].start, end, "PERSON", max(seed[i : j + 1])))
            i = j + 1
        return hits

    def _quoted_nickname(self, sc: _Scan, j: int) -> bool:
        return sc.gap(j).strip() in ('"', '""') or (sc.gap(j) == "." and len(sc.toks[j].low) == 1)
