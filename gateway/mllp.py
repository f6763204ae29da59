"""`hds mllp`: an HL7 v2 MLLP listener for hospital interface engines (Mirth, Rhapsody, Cloverleaf).

One listener serves one hospital feed. Each MLLP block is one HL7 v2 message; it is checked with the same
rules as `hds publish` (the feed's reader: grammar, truncation, message type and required segments), written
to ``hds.raw.<hospital>.<feed>`` and answered with an HL7 acknowledgement:

- ``AA`` only after the broker acknowledged the write (``acks=all``);
- ``AR`` (reject: do not resend unchanged) for a message this feed cannot accept, with a reason code;
- ``AE`` (error: resend later) when the broker did not acknowledge the write in time.

A message that was not durably written is never acknowledged with ``AA``; a client that disconnects before
its block is complete gets nothing written and nothing answered. Resending after an ``AE`` is safe: the Kafka
key is the stable message id, so the gateway's record id and the catalog's primary key absorb a duplicate.

The MLLP framing (``<VT> message <FS><CR>``) is the maintained ``hl7`` package's asyncio support
(``hl7.mllp``); the HL7 grammar is this project's one (``deid.hl7``). Reason texts are codes and positions,
never message content. See docs/feeds.md.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from hl7.mllp import InvalidBlockError, start_hl7_server

from deid import hl7 as grammar
from gateway.formats.hl7v2 import check_hl7
from gateway.publish import headers_for
from gateway.readers import FeedMessage, FeedReadError, read_feed_bytes
from policies.feeds import FeedConfig
from policies.topics import raw_topic

log = logging.getLogger(__name__)

DEFAULT_PORT = 2575  # the port IANA registered for HL7 over MLLP
MAX_MESSAGE_BYTES = 16 * 1024 * 1024

# HL7 table 0357 (message error condition codes) for ERR-3.
_ERROR_CODES = {"segment": "100", "required": "101", "type": "200", "event": "201", "internal": "207"}


@dataclass(frozen=True)
class Verdict:
    """What one MLLP block gets back: ``AA``, ``AE`` or ``AR``, a PHI-free reason code and its HL7 error code."""

    code: str
    reason: str = ""
    error_code: str = ""


Writer = Callable[[FeedMessage], None]  # writes one message durably or raises


@dataclass
class ListenerStats:
    received: int = 0
    accepted: int = 0
    rejected: int = 0
    errors: int = 0
    incomplete: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    def count(self, verdict: Verdict) -> None:
        if verdict.code == "AA":
            self.accepted += 1
            return
        if verdict.code == "AR":
            self.rejected += 1
        else:
            self.errors += 1
        self.reasons[verdict.reason] = self.reasons.get(verdict.reason, 0) + 1

    def as_dict(self) -> dict[str, object]:
        return {"received": self.received, "accepted": self.accepted, "rejected": self.rejected,
                "errors": self.errors, "incomplete": self.incomplete, "reasons": dict(self.reasons)}


class KafkaWriter:
    """Writes to ``hds.raw.<hospital>.<feed>`` and waits for the broker's acknowledgement (``acks=all``).

    ``connected()`` (the readiness probe) is the outcome of the last write, or before the first write of a
    metadata request for the topic: a broker that stopped answering turns the listener unready at the next
    message it could not store."""

    def __init__(self, producer: Any, hospital: str, feed: str, *, timeout_s: float = 10.0) -> None:
        self._producer = producer
        self._hospital = hospital
        self._feed = feed
        self._topic = raw_topic(hospital, feed)
        self._timeout_s = timeout_s
        self._ok: bool | None = None  # outcome of the last write; None before the first

    def __call__(self, message: FeedMessage) -> None:
        try:
            future = self._producer.send(self._topic, key=message.message_id.encode(), value=message.payload,
                                         headers=headers_for(self._hospital, self._feed, message))
            future.get(timeout=self._timeout_s)  # raises unless the broker acknowledged the write
        except BaseException:
            self._ok = False
            raise
        self._ok = True

    def connected(self) -> bool:
        if self._ok is not None:
            return self._ok
        try:
            self._ok = bool(self._producer.partitions_for(self._topic))
        except Exception:  # noqa: BLE001 - no metadata: not ready (asked again at the next probe)
            return False
        return self._ok


class MllpListener:
    """Accepts HL7 v2 over MLLP for one feed and writes each message through ``writer``.

    ``check`` is the feed's own acceptance rule (message types, required segments); it returns a rejection
    reason code or None. ``ready`` tells the readiness probe whether the writer can reach the broker."""

    def __init__(
        self,
        *,
        hospital: str,
        feed: str,
        writer: Writer,
        check: Callable[[grammar.Message], Verdict | None] = lambda _m: None,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        ready: Callable[[], bool] = lambda: True,
        write_timeout_s: float = 15.0,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
        now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
    ) -> None:
        raw_topic(hospital, feed)  # validates the names
        self.hospital = hospital
        self.feed = feed
        self._writer = writer
        self._check = check
        self.host = host
        self.port = port
        self._ready = ready
        self._write_timeout_s = write_timeout_s
        self._max = max_message_bytes
        self._now = now
        self.stats = ListenerStats()
        self.listening = threading.Event()
        self.last_beat = time.monotonic()
        self._acks = 0

    # --- protocol --------------------------------------------------------------------------------------------

    async def serve(self, stop: threading.Event) -> None:
        server = await start_hl7_server(self._client, self.host, self.port, limit=self._max)
        self.port = server.sockets[0].getsockname()[1]
        self.listening.set()
        log.info("MLLP listener for %s/%s on %s:%d", self.hospital, self.feed, self.host, self.port)
        try:
            while not stop.is_set():
                self.last_beat = time.monotonic()
                await asyncio.sleep(0.2)
        finally:
            self.listening.clear()
            server.close()
            await server.wait_closed()

    async def _client(self, reader: Any, writer: Any) -> None:
        peer = writer.get_extra_info("peername")
        try:
            while True:
                try:
                    block = await reader.readblock()
                except asyncio.IncompleteReadError as exc:
                    if exc.partial.strip():
                        self.stats.incomplete += 1  # disconnected mid-message: nothing written, nothing answered
                        log.warning("MLLP client %s disconnected inside a message; nothing was written", peer)
                    return
                except InvalidBlockError:
                    await self._answer(writer, b"", Verdict("AR", "mllp_framing_error", _ERROR_CODES["segment"]))
                    return  # the stream is out of step: close rather than guess where the next block starts
                except ValueError:  # larger than the limit
                    await self._answer(writer, b"", Verdict("AR", "message_too_large", _ERROR_CODES["internal"]))
                    return
                self.stats.received += 1
                verdict = await self.handle(block)
                self.stats.count(verdict)
                await self._answer(writer, block, verdict)
        except (ConnectionError, OSError):
            return
        finally:
            writer.close()

    async def handle(self, block: bytes) -> Verdict:
        verdict, message = self._validate(block)
        if verdict is not None or message is None:
            return verdict or Verdict("AR", "internal_error", _ERROR_CODES["internal"])
        try:
            await asyncio.wait_for(asyncio.to_thread(self._writer, message), timeout=self._write_timeout_s)
        except Exception as exc:  # noqa: BLE001 - not acknowledged by the broker: never AA
            log.warning("MLLP message %s not written (%s); answered AE", message.message_id, type(exc).__name__)
            return Verdict("AE", "not_stored", _ERROR_CODES["internal"])
        return Verdict("AA")

    def _validate(self, block: bytes) -> tuple[Verdict | None, FeedMessage | None]:
        try:
            messages = read_feed_bytes(block, source="MLLP block", hospital=self.hospital, feed=self.feed,
                                       format="hl7v2")
        except FeedReadError as exc:
            return Verdict("AR", _reason_of(exc.reason), _ERROR_CODES["segment"]), None
        if len(messages) != 1:
            return Verdict("AR", "one_message_per_block", _ERROR_CODES["segment"]), None
        try:
            parsed = grammar.parse(messages[0].payload.decode("utf-8"))
        except grammar.HL7ParseError as exc:
            return Verdict("AR", exc.reason, _ERROR_CODES["segment"]), None
        if len(grammar.split_messages(parsed)) != 1:
            return Verdict("AR", "one_message_per_block", _ERROR_CODES["segment"]), None
        rejected = self._check(parsed)
        if rejected is not None:
            return rejected, None
        return None, messages[0]

    async def _answer(self, writer: Any, block: bytes, verdict: Verdict) -> None:
        writer.writeblock(self.ack(block, verdict).encode("utf-8"))
        await writer.drain()

    # --- acknowledgements ------------------------------------------------------------------------------------

    def ack(self, block: bytes, verdict: Verdict) -> str:
        """An HL7 ACK for ``block`` (original mode). Fields are taken from the received MSH where it can be read;
        MSA-3 and ERR carry the reason code, never content."""
        seps, msh = _received_msh(block)
        f, c = seps.field, seps.component
        self._acks += 1
        control_id = f"HDS{self._now().strftime('%Y%m%d%H%M%S')}{self._acks:06d}"
        trigger = msh.get(9, "").split(c)[1:2]
        version = msh.get(12, "") or "2.5"
        header = [
            "MSH", seps.encoding_characters, msh.get(5, ""), msh.get(6, ""), msh.get(3, ""), msh.get(4, ""),
            self._now().strftime("%Y%m%d%H%M%S"), "", c.join(["ACK", trigger[0] if trigger else "", "ACK"]),
            control_id, msh.get(11, "") or "P", version,
        ]
        text = {"AA": "accepted", "AE": "not stored, resend later", "AR": "rejected"}[verdict.code]
        if verdict.reason:
            text = f"{text}: {verdict.reason}"
        segments = ["MSH" + f + f.join(header[1:]), f.join(["MSA", verdict.code, msh.get(10, ""), text])]
        if verdict.code != "AA":
            err = ["ERR", "", "", c.join([verdict.error_code or _ERROR_CODES["internal"], "", "HL70357"]), "E",
                   "", "", "", verdict.reason]
            segments.append(f.join(err))
        return "\r".join(segments) + "\r"

    # --- probes ----------------------------------------------------------------------------------------------

    def health(self) -> tuple[bool, bool, dict[str, object]]:
        """(live, ready, details): live while the event loop turns; ready when listening and the broker is up."""
        age = time.monotonic() - self.last_beat
        live = age < 30.0
        listening = self.listening.is_set()
        broker = bool(self._ready()) if listening else False
        details: dict[str, object] = {"listening": listening, "broker": broker, "loop_age_s": round(age, 1),
                                      **self.stats.as_dict()}
        return live, live and listening and broker, details


def feed_check(feed: FeedConfig) -> Callable[[grammar.Message], Verdict | None]:
    """The feed's rules (``gateway.formats.hl7v2.check_hl7``) as an MLLP verdict: AR with HL7 error 200/201/100."""
    codes = {"message_type_not_accepted": _ERROR_CODES["type"], "event_not_accepted": _ERROR_CODES["event"],
             "missing_segment": _ERROR_CODES["segment"]}

    def check(message: grammar.Message) -> Verdict | None:
        broken = check_hl7(message, feed)
        if broken is None:
            return None
        return Verdict("AR", broken.reason, codes.get(broken.reason, _ERROR_CODES["internal"]))

    return check


def _reason_of(text: str) -> str:
    """A reader's reason sentence -> a short code (readers' reasons never hold content either)."""
    first = text.split("(")[0].strip().lower()
    code = "".join(ch if ch.isalnum() else "_" for ch in first).strip("_")
    while "__" in code:
        code = code.replace("__", "_")
    return code[:60] or "unreadable"


def _received_msh(block: bytes) -> tuple[grammar.Separators, dict[int, str]]:
    """The separators and MSH fields (by HL7 number) of a received block, as far as they can be read."""
    text = block.decode("utf-8", "replace").lstrip("\ufeff\r\n ")
    first = text.replace("\n", "\r").split("\r", 1)[0]
    if not first.startswith("MSH") or len(first) < 8:
        return grammar.Separators(), {}
    fs = first[3]
    parts = first.split(fs)
    enc = parts[1] if len(parts) > 1 else ""
    if fs.isalnum() or fs.isspace() or not 4 <= len(enc) <= 5 or len(set(enc + fs)) != len(enc) + 1:
        return grammar.Separators(), {}
    seps = grammar.Separators(fs, enc[0], enc[1], enc[2], enc[3], enc[4] if len(enc) == 5 else "")
    fields = {number: value for number, value in enumerate(parts, start=1) if number >= 3}
    # MSH-10 is echoed in MSA-2 (the sender matches the ACK by it); other fields only route the ACK back.
    return seps, {k: v[:199] for k, v in fields.items()}


# --- the probe endpoint ---------------------------------------------------------------------------------------


def start_health_server(listener: MllpListener, port: int, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """``/health/live`` (liveness), ``/health/ready`` and ``/health`` (readiness): JSON counts, never content."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            live, ready, details = listener.health()
            if self.path == "/health/live":
                ok = live
            elif self.path in ("/health/ready", "/health"):
                ok = ready
            else:
                self._send(404, {"detail": "not found"})
                return
            self._send(200 if ok else 503, {"status": "ok" if ok else "unavailable", **details})

        def _send(self, status: int, body: dict[str, object]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:  # no request logging
            return

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, name="mllp-health", daemon=True).start()
    return server


def run_listener(listener: MllpListener, stop: threading.Event) -> None:
    """Run ``listener`` in its own event loop until ``stop`` is set."""
    asyncio.run(listener.serve(stop))
