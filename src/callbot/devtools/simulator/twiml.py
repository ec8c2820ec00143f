"""Reading the server's TwiML the way Twilio does, for `callbot simulate`.

Only the verbs our server answers with are understood: `<Connect><Stream>` (open the media
socket), `<Enqueue>`, `<Dial>`, `<Say>`, `<Hangup>`. Anything else is reported, never guessed.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit


class TwimlError(ValueError):
    """The server answered with something Twilio could not execute."""


@dataclass
class StreamInstruction:
    """`<Connect action=…><Stream url=…><Parameter …/></Stream></Connect>`."""

    url: str
    parameters: dict[str, str]
    action: str | None
    method: str = "POST"
    # Problems Twilio would reject or misbehave on, found while reading (a query string in the URL…).
    problems: list[str] = field(default_factory=list)
    # Without an action, Twilio runs the verbs written after </Connect> once the stream ends.
    after: FinalVerb | None = None


@dataclass
class FinalVerb:
    """What the call does once it leaves the bot: `hangup`, `enqueue`, `dial`, or None (unknown)."""

    verb: str | None
    target: str | None
    twiml: str
    said: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"verb": self.verb, "target": self.target, "twiml": self.twiml, "said": self.said}


def _root(twiml: str) -> ET.Element:
    try:
        root = ET.fromstring(twiml)
    except ET.ParseError as e:
        raise TwimlError(f"la réponse n'est pas du XML valide ({e})") from None
    if root.tag != "Response":
        raise TwimlError(f"la racine TwiML doit être <Response>, pas <{root.tag}>")
    return root


def parse_webhook_answer(twiml: str) -> StreamInstruction | FinalVerb:
    """The answer to `POST /twilio/voice`: a stream to open, or a call that never reaches the bot."""
    root = _root(twiml)
    verbs = list(root)
    for i, verb in enumerate(verbs):
        if verb.tag == "Start" and verb.find("Stream") is not None:
            raise TwimlError("<Start><Stream> ouvre un flux unidirectionnel : le robot ne pourrait pas "
                             "parler. Il faut <Connect><Stream>.")
        if verb.tag == "Connect":
            instruction = _connect(verb)
            instruction.after = _final(verbs[i + 1:], twiml)
            return instruction
    return _final(verbs, twiml)


def _connect(connect: ET.Element) -> StreamInstruction:
    streams = connect.findall("Stream")
    if len(streams) != 1:
        raise TwimlError(f"<Connect> doit contenir exactement un <Stream> (trouvé {len(streams)})")
    stream = streams[0]
    url = (stream.get("url") or "").strip()
    if not url:
        raise TwimlError("<Stream> sans attribut url")
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.netloc:
        raise TwimlError(f"url de <Stream> invalide : {url!r} (ws:// ou wss:// attendu)")
    problems = []
    if parts.query:
        problems.append(f"stream_url_query: Twilio refuse une query string dans l'url de <Stream> ({url})")
    track = stream.get("track")
    if track not in (None, "inbound_track"):
        problems.append(f"stream_track: <Connect><Stream> n'accepte que inbound_track (vu {track!r})")
    params: dict[str, str] = {}
    for p in stream.findall("Parameter"):
        name = p.get("name")
        if not name:
            raise TwimlError("<Parameter> sans attribut name")
        params[name] = p.get("value", "")
    return StreamInstruction(url=url, parameters=params, action=connect.get("action") or None,
                             method=(connect.get("method") or "POST").upper(), problems=problems)


def parse_final_verb(twiml: str) -> FinalVerb:
    """The TwiML that ends the bot's part of the call (answer to the `<Connect action>`)."""
    return _final(list(_root(twiml)), twiml)


def _final(verbs: list[ET.Element], twiml: str) -> FinalVerb:
    said: list[str] = []
    for verb in verbs:
        if verb.tag == "Say":
            said.append((verb.text or "").strip())
        elif verb.tag == "Pause":
            continue
        elif verb.tag == "Enqueue":
            queue = (verb.text or "").strip() or verb.get("workflowSid")
            if not queue:
                raise TwimlError("<Enqueue> sans nom de file d'attente")
            return FinalVerb("enqueue", queue, twiml, said)
        elif verb.tag == "Dial":
            return FinalVerb("dial", _dial_target(verb), twiml, said)
        elif verb.tag == "Hangup":
            return FinalVerb("hangup", None, twiml, said)
        else:
            # <Redirect>, <Gather>, <Play>…: not something our server is meant to answer.
            return FinalVerb(None, verb.tag, twiml, said)
    # Twilio hangs up when the document runs out of verbs.
    return FinalVerb("hangup", None, twiml, said)


def _dial_target(dial: ET.Element) -> str:
    nouns = [child for child in dial if child.tag in ("Number", "Queue", "Client", "Sip", "Conference")]
    target = (nouns[0].text if nouns else dial.text) or ""
    if not target.strip():
        raise TwimlError("<Dial> sans numéro")
    return target.strip()


def rewrite_host(url: str, base_url: str) -> str:
    """`url` with the scheme family and host of `base_url` (reach a server behind a public URL locally)."""
    target = urlsplit(url)
    base = urlsplit(base_url)
    secure = base.scheme in ("https", "wss")
    websocket = target.scheme in ("ws", "wss")
    scheme = ("wss" if secure else "ws") if websocket else ("https" if secure else "http")
    return urlunsplit((scheme, base.netloc, target.path, target.query, target.fragment))
