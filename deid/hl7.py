"""A small HL7 v2 message model: parse, address values, write back.

- Separators come from MSH-1 (field) and MSH-2 (component, repetition, escape, sub-component[, truncation]).
- Segments may be separated by CR, LF or CRLF; a leading BOM is stripped.
- Escape sequences (`\\F\\`, `\\S\\`, `\\.br\\`, ...) are preserved: values are returned as written;
  `Message.unescape()` / `Message.escape()` convert text explicitly.
- Batch and file envelopes (FHS, BHS, BTS, FTS) are accepted around one or more MSH messages, in order.
- Errors are `HL7ParseError` with a position (segment index and name, field number) and a reason code;
  they never carry message content.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_SEGMENT_NAME = re.compile(r"[A-Z][A-Z0-9]{2}")
_LINE_SPLIT = re.compile(r"\r\n|\r|\n")
_ADDRESS = re.compile(r"([A-Z][A-Z0-9]{2})(?:\[(\d+)\])?-(\d+)(?:\[(\d+)\])?(?:\.(\d+))?(?:\.(\d+))?")
_HEADERS = ("MSH", "BHS", "FHS")
_ENVELOPE = {"FHS", "BHS", "BTS", "FTS"}


class HL7ParseError(ValueError):
    """The text is not a well-formed HL7 v2 message. `position` names where; `reason` is a short code."""

    def __init__(self, reason: str, position: str = "") -> None:
        self.reason = reason
        self.position = position
        super().__init__(f"{reason} at {position}" if position else reason)


@dataclass(frozen=True)
class Separators:
    field: str = "|"
    component: str = "^"
    repetition: str = "~"
    escape: str = "\\"
    subcomponent: str = "&"
    truncation: str = ""

    @property
    def encoding_characters(self) -> str:
        return self.component + self.repetition + self.escape + self.subcomponent + self.truncation


@dataclass
class Segment:
    """One segment. `fields[0]` is the name; for header segments (MSH/BHS/FHS) `fields[1]` is the encoding
    characters (so MSH-n is `fields[n-1]`), otherwise SEG-n is `fields[n]`."""

    fields: list[str]

    @property
    def name(self) -> str:
        return self.fields[0]

    @property
    def is_header(self) -> bool:
        return self.name in _HEADERS

    def index_of(self, number: int) -> int:
        """List index of field SEG-`number` (1-based HL7 numbering)."""
        return number - 1 if self.is_header else number

    def field(self, number: int) -> str:
        i = self.index_of(number)
        return self.fields[i] if 0 < i < len(self.fields) else ""

    def field_count(self) -> int:
        """The highest field number present."""
        return len(self.fields) if self.is_header else len(self.fields) - 1

    def to_text(self, seps: Separators) -> str:
        if self.is_header:
            return self.name + seps.field + seps.field.join(self.fields[1:])
        return seps.field.join(self.fields)


@dataclass
class Message:
    segments: list[Segment]
    separators: Separators = field(default_factory=Separators)

    # --- access -------------------------------------------------------------------------------------
    def segment(self, name: str, occurrence: int = 1) -> Segment | None:
        seen = 0
        for seg in self.segments:
            if seg.name == name:
                seen += 1
                if seen == occurrence:
                    return seg
        return None

    def value(self, address: str) -> str:
        """`PID-5.1`, `PID-3[2].1` (2nd repetition), `OBX[2]-5` (2nd OBX), `PID-3.4.2` (sub-component).

        Repetitions and occurrences are 1-based; a missing value is "". Escape sequences are not decoded."""
        m = _ADDRESS.fullmatch(address.strip())
        if m is None:
            raise ValueError("bad HL7 address")
        name, occ, num, rep, comp, sub = m.groups()
        seg = self.segment(name, int(occ or 1))
        if seg is None:
            return ""
        number = int(num)
        if seg.is_header and number == 1:
            return self.separators.field
        if seg.is_header and number == 2:
            return self.separators.encoding_characters
        value = seg.field(number)
        s = self.separators
        reps = value.split(s.repetition)
        r = int(rep or 1)
        value = reps[r - 1] if 0 < r <= len(reps) else ""
        if comp is not None:
            comps = value.split(s.component)
            c = int(comp)
            value = comps[c - 1] if 0 < c <= len(comps) else ""
            if sub is not None:
                subs = value.split(s.subcomponent)
                k = int(sub)
                value = subs[k - 1] if 0 < k <= len(subs) else ""
        return value

    def to_text(self) -> str:
        return "\r".join(seg.to_text(self.separators) for seg in self.segments) + "\r"

    # --- escaping -------------------------------------------------------------------------------------
    def unescape(self, text: str) -> str:
        """Delimiter escapes to characters, `\\.br\\` to a newline; other formatting escapes are removed."""
        s = self.separators
        e = s.escape
        if e not in text:
            return text
        mapping = {"F": s.field, "S": s.component, "T": s.subcomponent, "R": s.repetition, "E": e, ".br": "\n"}
        out: list[str] = []
        i = 0
        while i < len(text):
            ch = text[i]
            if ch == e:
                j = text.find(e, i + 1)
                if j == -1:
                    out.append(text[i:])
                    break
                code = text[i + 1 : j]
                out.append(mapping.get(code, ""))
                i = j + 1
                continue
            out.append(ch)
            i += 1
        return "".join(out)

    def escape(self, text: str) -> str:
        s = self.separators
        table = {
            s.escape: f"{s.escape}E{s.escape}",
            s.field: f"{s.escape}F{s.escape}",
            s.component: f"{s.escape}S{s.escape}",
            s.subcomponent: f"{s.escape}T{s.escape}",
            s.repetition: f"{s.escape}R{s.escape}",
            "\n": f"{s.escape}.br{s.escape}",
            "\r": "",
        }
        return "".join(table.get(c, c) for c in text)


def _separators(line: str, index: int) -> Separators:
    if len(line) < 8:
        raise HL7ParseError("hl7_truncated_header", f"segment {index} {line[:3]}")
    fs = line[3]
    if fs.isalnum() or fs.isspace():
        raise HL7ParseError("hl7_bad_separators", f"segment {index} {line[:3]}-1")
    end = line.find(fs, 4)
    enc = line[4:end] if end != -1 else line[4:]
    if not 4 <= len(enc) <= 5 or len(set(enc + fs)) != len(enc) + 1 or any(c.isalnum() or c.isspace() for c in enc):
        raise HL7ParseError("hl7_bad_separators", f"segment {index} {line[:3]}-2")
    return Separators(fs, enc[0], enc[1], enc[2], enc[3], enc[4] if len(enc) == 5 else "")


def parse(text: str, *, complete: bool = True) -> Message:
    """Parse one HL7 v2 message (optionally inside FHS/BHS batch or file envelopes).

    `complete`: also refuse the marks of a message cut short (a segment ending before its last required field,
    an escape sequence left open). Off for messages this project wrote itself: de-identification drops fields,
    so a de-identified PID may rightly end early."""
    if not isinstance(text, str):
        raise HL7ParseError("hl7_not_text")
    text = text.lstrip("\ufeff").strip("\r\n\x0b\x1c ")
    lines = [ln for ln in _LINE_SPLIT.split(text) if ln.strip()]
    if not lines:
        raise HL7ParseError("hl7_empty")
    first = lines[0][:3]
    if first not in _HEADERS:
        raise HL7ParseError("hl7_no_msh", "segment 1")
    seps = _separators(lines[0], 1)
    segments: list[Segment] = []
    for i, line in enumerate(lines, start=1):
        name = line[:3]
        if not _SEGMENT_NAME.fullmatch(name) or (len(line) > 3 and line[3] != seps.field):
            raise HL7ParseError("hl7_bad_segment", f"segment {i}")
        if name in _HEADERS:
            if _separators(line, i) != seps:
                raise HL7ParseError("hl7_bad_separators", f"segment {i} {name}")
            rest = line[4:]
            parts = rest.split(seps.field)
            segments.append(Segment([name, *parts]))
        else:
            segments.append(Segment(line.split(seps.field)))
    _check_structure(segments)
    if complete:
        _check_complete(segments, seps)
    return Message(segments, seps)


# The last field HL7 v2.3-2.8 make required (lowered where real senders omit it: PID-5, OBX-11 in the
# FHIR-Converter and python-hl7 samples), for segments where that holds in every version: a segment that
# ends before it was cut short (a message cut in the middle of a segment still has the shape of one).
REQUIRED_THROUGH = {
    "EVN": 2, "PID": 3, "PV1": 2, "NK1": 1, "ORC": 1, "OBR": 4, "OBX": 3, "AL1": 3, "IN1": 3, "TXA": 2,
    "MRG": 1, "MSA": 2,
}  # fmt: skip


def _check_complete(segments: list[Segment], seps: Separators) -> None:
    """A segment with fewer fields than its last required one, or a field whose escape sequence never closes
    (an odd number of escape characters), is the mark of a message cut short."""
    for k, seg in enumerate(segments, start=1):
        need = REQUIRED_THROUGH.get(seg.name)
        if need is not None and seg.field_count() < need:
            raise HL7ParseError("hl7_truncated_segment", f"segment {k} {seg.name} ({seg.field_count()} of {need} fields)")
        values = seg.fields[2:] if seg.is_header else seg.fields[1:]  # MSH-2 holds the escape character itself
        for n, value in enumerate(values, start=3 if seg.is_header else 1):
            if value.count(seps.escape) % 2:
                raise HL7ParseError("hl7_truncated_escape", f"segment {k} {seg.name}-{n}")


def _check_structure(segments: list[Segment]) -> None:
    """FHS? (BHS? (MSH body*)+ BTS?)+ FTS?: a body segment follows an MSH of the same batch, a batch does not
    open inside another, FHS only first and FTS only last; MSH-9 (type) and MSH-12 (version) present."""
    in_batch = False
    after_msh = False
    last = len(segments) - 1
    for k, seg in enumerate(segments):
        name = seg.name
        where = f"segment {k + 1} {name}"
        if name == "FHS":
            if k != 0:
                raise HL7ParseError("hl7_misplaced_envelope", where)
        elif name == "FTS":
            if k != last:
                raise HL7ParseError("hl7_misplaced_envelope", where)
        elif name == "BHS":
            if in_batch:
                raise HL7ParseError("hl7_misplaced_envelope", where)
            in_batch, after_msh = True, False
        elif name == "BTS":
            in_batch, after_msh = False, False
        elif name == "MSH":
            if not seg.field(9) or not seg.field(12):
                raise HL7ParseError("hl7_truncated_header", where)
            after_msh = True
        elif not after_msh:
            raise HL7ParseError("hl7_no_msh", where)
    if not any(seg.name == "MSH" for seg in segments):
        raise HL7ParseError("hl7_no_msh")


def split_messages(message: Message) -> list[tuple[int, int]]:
    """(start, end) segment index ranges of the MSH messages inside `message` (one range when no batch)."""
    starts = [i for i, s in enumerate(message.segments) if s.name == "MSH"]
    ranges: list[tuple[int, int]] = []
    for n, start in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(message.segments)
        while end > start and message.segments[end - 1].name in _ENVELOPE:
            end -= 1
        ranges.append((start, end))
    return ranges


# --- files: bytes holding one or more messages ------------------------------------------------------------------
# The same grammar read from bytes, line by line, so errors can name lines: a feed file, an HTTP body or an MLLP
# block is split into its MSH messages (FHS/BHS/BTS/FTS envelopes checked and dropped, MLLP framing left in a
# capture stripped), each decoded from UTF-8 or its MSH-18 character set. `parse` then reads each message.

_LINE_BREAK = re.compile(rb"\r\n|\r|\n")
_MLLP_START, _MLLP_END = b"\x0b", b"\x1c"
_SEGMENT_NAME_BYTES = re.compile(_SEGMENT_NAME.pattern.encode())
_TYPE_CODE = re.compile(r"[A-Z0-9]{3}")

# HL7 table 0211 (MSH-18 character set) -> Python codec
CHARSETS = {
    "ASCII": "ascii",
    "8859/1": "iso8859-1", "8859/2": "iso8859-2", "8859/3": "iso8859-3", "8859/4": "iso8859-4",
    "8859/5": "iso8859-5", "8859/6": "iso8859-6", "8859/7": "iso8859-7", "8859/8": "iso8859-8",
    "8859/9": "iso8859-9", "8859/15": "iso8859-15",
    "UNICODE": "utf-8", "UNICODE UTF-8": "utf-8",
    "GB 18030-2000": "gb18030", "BIG-5": "big5", "KS X 1001": "euc-kr", "ISO IR87": "iso2022_jp",
    "WINDOWS-1252": "cp1252", "CP1252": "cp1252",
}  # fmt: skip


class HL7FileError(HL7ParseError):
    """Bytes that cannot be split into messages. `position` is "line N" or "message M (line N)"; `reason` is a
    sentence naming the rule (never content)."""


@dataclass(frozen=True)
class FileMessage:
    number: int  # 1-based, in file order
    first_line: int  # line of its MSH
    text: str  # the message's segments joined by CR, decoded


def looks_like_hl7(head: bytes) -> bool:
    """Whether bytes start (after a BOM, blank lines or an MLLP start block) with an MSH/FHS/BHS/BTS/FTS segment."""
    start = head.removeprefix(b"\xef\xbb\xbf").lstrip(b" \t\r\n" + _MLLP_START)
    return start[:3].decode("latin-1") in (*_HEADERS, *_ENVELOPE) and len(start) > 3 and not start[3:4].isalnum()


def split_file(data: bytes) -> list[FileMessage]:
    """The messages in `data` (UTF-8 BOM already removed), in order; HL7FileError for the first rule broken."""
    return [FileMessage(m.number, m.first_line, "\r".join(_decode(m))) for m in _split_lines(data)]


@dataclass
class _Lines:
    number: int
    first_line: int
    lines: list[tuple[int, bytes]]  # (line number, segment bytes)
    field_separator: bytes


@dataclass
class _Envelope:
    file_open: bool = False
    file_closed: bool = False
    batch_open: bool = False
    batch_messages: int = 0


def _split_lines(data: bytes) -> list[_Lines]:
    """Group segment lines into messages, strip FHS/BHS/BTS/FTS envelopes, check the structure."""
    messages: list[_Lines] = []
    current: _Lines | None = None
    env = _Envelope()
    for index, raw in enumerate(_LINE_BREAK.split(data), start=1):
        line = raw.removeprefix(_MLLP_START).removesuffix(_MLLP_END)
        if not line.strip():
            continue
        where = f"message {current.number} (line {index})" if current else f"line {index}"
        name = line[:3].decode("latin-1")
        if name == "MSH":
            if env.file_closed:
                raise HL7FileError("segment after FTS (end of file envelope)", where)
            current = _Lines(len(messages) + 1, index, [(index, line)], line[3:4])
            _check_msh(f"message {current.number} (line {index})", line)
            messages.append(current)
            env.batch_messages += 1
            continue
        if name in _ENVELOPE and (len(line) == 3 or not line[3:4].isalnum()):
            _close(current)
            current = None
            _envelope_segment(env, name, index, line)
            continue
        if current is None:
            raise HL7FileError("segment outside a message (no MSH before it)", f"line {index}")
        if not (_SEGMENT_NAME_BYTES.fullmatch(line[:3]) and (len(line) == 3 or line[3:4] == current.field_separator)):
            raise HL7FileError("line does not look like an HL7 segment "
                               "(3 upper-case letters or digits, then the field separator)", where)
        current.lines.append((index, line))
    _close(current)
    return messages


def _close(message: _Lines | None) -> None:
    if message is not None and len(message.lines) < 2:
        raise HL7FileError("message has no segment after MSH", f"message {message.number} (line {message.first_line})")


def _envelope_segment(env: _Envelope, name: str, index: int, line: bytes) -> None:
    where = f"line {index}"
    if name == "FHS":
        if env.file_open:
            raise HL7FileError("FHS inside an open file envelope (FTS missing)", where)
        env.file_open, env.file_closed, env.batch_open = True, False, False
    elif name == "BHS":
        if env.file_closed:
            raise HL7FileError("segment after FTS (end of file envelope)", where)
        if env.batch_open:
            raise HL7FileError("BHS inside an open batch (BTS missing)", where)
        env.batch_open, env.batch_messages = True, 0
    elif name == "BTS":
        _check_batch_count(where, line, env)
        env.batch_open = False
    else:  # FTS
        env.file_open, env.file_closed, env.batch_open = False, True, False


def _check_msh(where: str, line: bytes) -> None:
    separator = line[3:4]
    if not separator or separator.isalnum() or separator in b" \t":
        raise HL7FileError("MSH-1 field separator missing or invalid", where)
    fields = line.split(separator)
    encoding = fields[1] if len(fields) > 1 else b""
    if not 2 <= len(encoding) <= 5 or len(set(encoding)) != len(encoding) or any(
        bytes([c]).isalnum() or bytes([c]) == separator for c in encoding
    ):
        raise HL7FileError("MSH-2 encoding characters missing or invalid", where)
    message_type = fields[8] if len(fields) > 8 else b""
    first = message_type.split(encoding[:1])[0]
    if not _TYPE_CODE.fullmatch(first.decode("latin-1")):
        raise HL7FileError("MSH-9 message type missing or invalid", where)


def _check_batch_count(where: str, line: bytes, env: _Envelope) -> None:
    """BTS-1 is the number of messages in the batch; check it when the batch had a BHS."""
    if not env.batch_open or len(line) < 5:
        return
    declared = line[4:].split(line[3:4])[0].strip()
    if declared.isdigit() and int(declared) != env.batch_messages:
        raise HL7FileError(f"BTS-1 declares {int(declared)} messages but the batch holds {env.batch_messages}", where)


def _decode(message: _Lines) -> list[str]:
    """UTF-8, or the MSH-18 character set when the bytes are not UTF-8."""
    try:
        return [line.decode("utf-8") for _, line in message.lines]
    except UnicodeDecodeError:
        pass
    codec = _declared_charset(message)
    bad_line = next(n for n, line in message.lines if not _is_utf8(line))
    where = f"message {message.number} (line {bad_line})"
    if codec is None or codec == "utf-8":
        raise HL7FileError("bytes are not valid UTF-8 and MSH-18 declares no other character set", where)
    try:
        return [line.decode(codec) for _, line in message.lines]
    except (UnicodeDecodeError, LookupError):
        raise HL7FileError("bytes are not valid in the MSH-18 character set", where) from None


def _declared_charset(message: _Lines) -> str | None:
    fields = message.lines[0][1].split(message.field_separator)
    if len(fields) < 18 or not fields[17].strip():
        return None
    encoding = fields[1]
    value = fields[17]
    if len(encoding) > 1:
        value = value.split(encoding[1:2])[0]  # first repetition
    value = value.split(encoding[:1])[0].strip().decode("latin-1").upper()
    return CHARSETS.get(value, "unknown")


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
