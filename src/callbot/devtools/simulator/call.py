"""`callbot simulate`: place a call against a running server exactly the way Twilio does.

webhook `POST /twilio/voice` → TwiML `<Connect action><Stream>` → media socket (`connected`,
`start`, a 160-byte mu-law frame every 20 ms for the whole call, DTMF, mark echoes when playback
reaches them, `clear` honoured) → when the server closes the socket, the `<Connect action>`
request and its final verb. Latencies are measured on the caller's side of the line.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from callbot.devtools.simulator.audio import (
    FRAME_MS,
    RATE,
    SILENCE_FRAME,
    AudioError,
    frames_of,
    load_caller_voice,
    silence_frames,
    speak_as_caller,
    wav_to_ulaw,
    write_wav,
)
from callbot.devtools.simulator.playout import Playout
from callbot.devtools.simulator.protocol import StreamEncoder, Violation, new_sid, read_server_frame
from callbot.devtools.simulator.steps import (
    CALLER_TURN_KINDS,
    DTMF_DIGITS,
    Dtmf,
    Hangup,
    Say,
    Step,
    Wait,
    WaitForBot,
    WaitForBotAudio,
    Wav,
    step_kind,
)
from callbot.devtools.simulator.summary import CallSummary, TurnResult
from callbot.devtools.simulator.twiml import (
    FinalVerb,
    StreamInstruction,
    TwimlError,
    parse_final_verb,
    parse_webhook_answer,
    rewrite_host,
)

__all__ = ["CallSummary", "Dtmf", "Hangup", "Say", "SimulationError", "Step", "TurnResult", "Wait",
           "WaitForBot", "WaitForBotAudio", "Wav", "place_call"]

FRAME_SECS = FRAME_MS / 1000
HTTP_TIMEOUT_SECS = 15.0


# Bot audio heard with shorter gaps than this counts as one stretch (network jitter, not a pause).
SPAN_GAP_MS = 60


class SimulationError(RuntimeError):
    """The call could not be placed or carried out (server unreachable, bad TwiML, bad input)."""


# ---- preparation -----------------------------------------------------------------------------------

@dataclass
class _Prepared:
    index: int
    step: Step
    frames: list[bytes] = field(default_factory=list)


def prepare_steps(steps: list[Step], voice: Any = None) -> list[_Prepared]:  # noqa: ANN401
    """Turn every step into frames before dialling, so synthesis never disturbs the 20 ms pacing."""
    prepared: list[_Prepared] = []
    for i, step in enumerate(steps):
        item = _Prepared(i, step)
        if isinstance(step, Say):
            if not step.text.strip():
                raise SimulationError(f"étape {i} : texte vide")
            if voice is None:
                voice = load_caller_voice()
            item.frames = frames_of(speak_as_caller(voice, step.text))
        elif isinstance(step, Wav):
            item.frames = frames_of(wav_to_ulaw(step.path))
            if not item.frames:
                raise SimulationError(f"étape {i} : {step.path} ne contient pas d'audio")
        elif isinstance(step, Dtmf):
            if len(step.digit) != 1 or step.digit not in DTMF_DIGITS:
                raise SimulationError(f"étape {i} : touche DTMF invalide {step.digit!r} (0-9, * ou #)")
        elif isinstance(step, Wait):
            if step.seconds < 0:
                raise SimulationError(f"étape {i} : durée négative")
            item.frames = [SILENCE_FRAME] * silence_frames(step.seconds)
        elif isinstance(step, WaitForBot | WaitForBotAudio | Hangup):
            pass
        else:
            raise SimulationError(f"étape {i} : type inconnu {step!r}")
        prepared.append(item)
    return prepared


# ---- the call --------------------------------------------------------------------------------------

class _ServerClosed(Exception):
    pass


def _form(call_sid: str, account_sid: str, caller: str, called: str, status: str) -> dict[str, str]:
    """The parameters Twilio posts with every voice request of an inbound call."""
    return {
        "CallSid": call_sid, "AccountSid": account_sid, "From": caller, "To": called,
        "Caller": caller, "Called": called, "CallStatus": status, "Direction": "inbound",
        "ApiVersion": "2010-04-01", "FromCountry": "FR", "ToCountry": "FR",
    }


async def _post_twiml(client: httpx.AsyncClient, url: str, signed_url: str, form: dict[str, str],
                      auth_token: str | None) -> str:
    headers = {"User-Agent": "TwilioProxy/1.1 (callbot simulate)"}
    if auth_token:
        from twilio.request_validator import RequestValidator

        headers["X-Twilio-Signature"] = RequestValidator(auth_token).compute_signature(signed_url, form)
    try:
        response = await client.post(url, data=form, headers=headers)
    except httpx.TimeoutException:
        raise SimulationError(f"le serveur n'a pas répondu à temps : POST {url}") from None
    except httpx.HTTPError as e:
        raise SimulationError(f"serveur injoignable : POST {url} ({e.__class__.__name__}: {e})") from None
    if response.status_code == 403:
        raise SimulationError(f"POST {url} → HTTP 403 : signature refusée ; donnez --auth-token (le jeton "
                              "Twilio du serveur), ou lancez un serveur local avec CALLBOT_ALLOW_UNSIGNED=1")
    if response.status_code != 200:
        raise SimulationError(f"POST {url} → HTTP {response.status_code} : {response.text[:200]}")
    return response.text


class _MediaCall:
    """One media socket, Twilio's side: a paced sender (the steps) and a receiver (the bot)."""

    def __init__(self, ws: ClientConnection, encoder: StreamEncoder, summary: CallSummary,
                 *, realtime: bool) -> None:
        self.ws = ws
        self.encoder = encoder
        self.summary = summary
        self.realtime = realtime
        self.playout = Playout()
        self.lock = asyncio.Lock()
        self.closed = asyncio.Event()
        self.started_at = 0.0
        self.media_origin = 0.0
        self.media_log: list[tuple[float, int]] = []  # (received at, bytes) of every bot media frame
        self.caller_turns: list[dict[str, Any]] = []
        self.hanging_up = False

    # -- sending --
    async def send(self, message: dict[str, Any]) -> None:
        if self.closed.is_set():
            raise _ServerClosed
        async with self.lock:
            try:
                await self.ws.send(json.dumps(message))
            except ConnectionClosed:
                self.closed.set()
                raise _ServerClosed from None

    async def echo(self, names: list[str]) -> None:
        for name in names:
            await self.send(self.encoder.mark(name))
            self.summary.marks_echoed += 1

    async def open(self, parameters: dict[str, str]) -> None:
        await self.send(self.encoder.connected())
        self.started_at = time.perf_counter()
        await self.send(self.encoder.start(parameters))
        self.media_origin = time.perf_counter()

    async def frame(self, audio: bytes) -> float:
        """Send the next 20 ms frame when it is due; return when it left."""
        k = self.encoder.chunk  # frames already sent
        due = self.media_origin + k * FRAME_SECS
        if self.realtime:
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                late = -delay * 1000
                self.summary.pacing_max_late_ms = max(self.summary.pacing_max_late_ms, round(late, 1))
        else:
            await asyncio.sleep(0)
        timestamp = (self.media_origin - self.started_at) * 1000 + k * FRAME_MS
        await self.send(self.encoder.media(audio, round(timestamp)))
        sent = time.perf_counter()
        self.summary.frames_sent += 1
        await self.echo(self.playout.due_marks(sent))
        return sent

    # -- receiving --
    async def receive(self) -> None:
        try:
            async for raw in self.ws:
                await self.handle(raw)
        except ConnectionClosed:
            pass
        finally:
            rcvd = self.ws.protocol.close_rcvd
            if rcvd is not None:
                self.summary.close = {"code": rcvd.code, "reason": rcvd.reason}
            if not self.hanging_up:
                # <Connect> ends when the socket closes and Twilio moves on to the action; audio still
                # queued is not played (inferred: it is why servers wait for their last mark echo).
                now = time.perf_counter()
                self.playout.due_marks(now)
                self.summary.marks_pending_at_close = len(self.playout.pending_marks)
                self.summary.unplayed_at_close_ms = round(self.playout.drop_unplayed(now) * 1000 / RATE, 1)
            self.closed.set()

    async def handle(self, raw: str | bytes) -> None:
        now = time.perf_counter()
        try:
            frame = read_server_frame(raw, self.encoder.stream_sid)
        except Violation as v:
            self.summary.violations.append({"code": v.code, "detail": v.detail,
                                            "at_ms": round((now - self.started_at) * 1000)})
            return
        with contextlib.suppress(_ServerClosed):
            if frame.event == "media":
                self.playout.add_media(frame.audio, now)
                self.media_log.append((now, len(frame.audio)))
            elif frame.event == "mark":
                self.summary.marks_sent_by_server += 1
                self.playout.add_mark(frame.name or "", now)
                await self.echo(self.playout.due_marks(now))
            elif frame.event == "clear":
                self.summary.clears += 1
                await self.echo(self.playout.clear(now))

    # -- steps --
    async def run(self, prepared: list[_Prepared], listen_secs_after: float) -> str:
        """Play the steps; return who ended the call ("caller" or "server")."""
        try:
            for item in prepared:
                step = item.step
                if isinstance(step, Hangup):
                    await self.hang_up()
                    return "caller"
                await self.play(item)
            await self.until(lambda now: False, listen_secs_after)
            await self.hang_up()
            return "caller"
        except _ServerClosed:
            return "server"

    async def play(self, item: _Prepared) -> None:
        step = item.step
        kind = step_kind(step)
        if isinstance(step, WaitForBot):
            if not await self.wait_for_bot(step.timeout, step.quiet):
                self.summary.timeouts.append(item.index)
            return
        if isinstance(step, WaitForBotAudio):
            if not await self.until(self.playout.playing, step.timeout):
                self.summary.timeouts.append(item.index)
            return
        if isinstance(step, Dtmf):
            await self.send(self.encoder.dtmf(step.digit))
            self.summary.dtmf_sent += 1
            end = time.perf_counter()
            self.note_turn(item, kind, end, end, text=step.digit)
            return
        begin = None
        end = time.perf_counter()
        for audio in item.frames:
            end = await self.frame(audio)
            begin = begin or end
        if kind in CALLER_TURN_KINDS:
            text = step.text if isinstance(step, Say) else str(step.path)
            self.note_turn(item, kind, begin or end, end, text=text)

    def note_turn(self, item: _Prepared, kind: str, begin: float, end: float, text: str) -> None:
        self.caller_turns.append({"index": item.index, "kind": kind, "begin": begin, "end": end,
                                  "bot_was_speaking": self.playout.playing(end), "text": text})

    async def until(self, done: Any, timeout: float) -> bool:  # noqa: ANN401
        """Keep the line alive with silence frames until `done(now)` or `timeout` seconds."""
        deadline = time.perf_counter() + timeout
        while True:
            now = await self.frame(SILENCE_FRAME)
            if done(now):
                return True
            if now >= deadline:
                return False

    async def wait_for_bot(self, timeout: float, quiet: float) -> bool:
        ref = time.perf_counter()
        speaking_at_ref = self.playout.playing(ref)

        def done(now: float) -> bool:
            last = self.playout.last_media_at
            heard = speaking_at_ref or (last is not None and last >= ref)
            if not heard or self.playout.playing(now):
                return False
            return now - max(self.playout.queued_until, last or ref) >= quiet

        return await self.until(done, timeout)

    async def hang_up(self) -> None:
        self.hanging_up = True
        await self.send(self.encoder.stop())
        await self.ws.close()

    # -- results --
    def results(self) -> None:
        s = self.summary
        if self.media_log:
            s.greeting_ms = round((self.media_log[0][0] - self.started_at) * 1000, 1)
        for i, turn in enumerate(self.caller_turns):
            window_end = self.caller_turns[i + 1]["begin"] if i + 1 < len(self.caller_turns) else float("inf")
            after = [(t, n) for t, n in self.media_log if turn["end"] < t < window_end]
            # A frame's audio ends 20 ms after the frame began; a key press has no duration.
            caller_ms = 0.0 if turn["kind"] == "dtmf" else (turn["end"] - turn["begin"]) * 1000 + FRAME_MS
            s.turns.append(TurnResult(
                step=turn["index"], kind=turn["kind"],
                first_audio_ms=round((after[0][0] - turn["end"]) * 1000, 1) if after else None,
                bot_audio_ms=round(sum(n for _, n in after) * 1000 / RATE, 1),
                bot_was_speaking=turn["bot_was_speaking"],
                caller_audio_ms=round(caller_ms, 1),
                text=turn["text"],
                ended_at_ms=round((turn["end"] - self.started_at) * 1000, 1),
            ))
        t0 = self.started_at
        s.bot_audio_spans_ms = [[round((a - t0) * 1000, 1), round((b - t0) * 1000, 1)]
                                for a, b in self.playout.spans(SPAN_GAP_MS / 1000)]
        begins = [turn["begin"] for turn in self.caller_turns]
        inside = [(dry, back) for dry, back in self.playout.dry_spells
                  if not any(dry <= b <= back for b in begins)]
        s.underruns_ms = [round((back - dry) * 1000, 1) for dry, back in inside]
        s.underruns_at_ms = [round((dry - t0) * 1000, 1) for dry, _ in inside]
        s.bot_audio_seconds = round(self.playout.received_seconds, 3)
        s.bot_audio_played_seconds = round(len(self.playout.played_audio()) / RATE, 3)
        s.duration_seconds = round(time.perf_counter() - self.started_at, 3)


async def place_call(
    base_url: str,
    steps: list[Step],
    *,
    caller: str = "+33612345678",
    called: str = "+33100000000",
    auth_token: str | None = None,
    voice: Any = None,  # noqa: ANN401 - a callbot.speech.piper_tts.PiperVoiceEngine; loaded from Settings when needed
    listen_secs_after: float = 15.0,
    realtime: bool = True,
    rewrite_stream_host: bool = False,
    public_url: str | None = None,
    out: Path | None = None,
    call_sid: str | None = None,
) -> CallSummary:
    """Place one call against the server at `base_url`; return what the caller experienced.

    `public_url` is the base URL Twilio would have been configured with (signatures are computed over
    it; default `base_url`). `rewrite_stream_host` connects to `base_url`'s host even when the TwiML
    names another (a server behind a tunnel reached locally). Raises SimulationError when the call
    cannot be placed; what the server does wrong during the call is reported in `violations`.
    """
    base_url = base_url.rstrip("/")
    signing_base = (public_url or base_url).rstrip("/")
    try:
        prepared = prepare_steps(steps, voice)
    except AudioError as e:
        raise SimulationError(str(e)) from None
    encoder = StreamEncoder(call_sid=call_sid or new_sid("CA"))
    summary = CallSummary(call_sid=encoder.call_sid)

    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_SECS) as client:
        twiml = await _post_twiml(client, base_url + "/twilio/voice", signing_base + "/twilio/voice",
                                  _form(encoder.call_sid, encoder.account_sid, caller, called, "ringing"),
                                  auth_token)
        try:
            answer = parse_webhook_answer(twiml)
        except TwimlError as e:
            raise SimulationError(f"TwiML invalide en réponse à /twilio/voice : {e}") from None
        if isinstance(answer, FinalVerb):
            # The server sent the call elsewhere without opening a stream (e.g. models not loaded).
            summary.outcome = answer.to_dict()
            summary.hung_up_by = "server"
            return summary

        for problem in answer.problems:
            code, _, detail = problem.partition(": ")
            summary.violations.append({"code": code, "detail": detail, "at_ms": None})
        summary.stream_sid = encoder.stream_sid
        who = await _stream(answer, encoder, summary, prepared, base_url=base_url,
                            rewrite=rewrite_stream_host, auth_token=auth_token,
                            listen_secs_after=listen_secs_after, realtime=realtime, out=out)
        summary.hung_up_by = who
        if who == "server":
            summary.outcome = (await _after_stream(client, answer, encoder, caller, called, base_url,
                                                   signing_base, rewrite_stream_host, auth_token)).to_dict()
    return summary


async def _stream(answer: StreamInstruction, encoder: StreamEncoder, summary: CallSummary,
                  prepared: list[_Prepared], *, base_url: str, rewrite: bool, auth_token: str | None,
                  listen_secs_after: float, realtime: bool, out: Path | None) -> str:
    url = rewrite_host(answer.url, base_url) if rewrite else answer.url
    headers = {}
    if auth_token:
        from twilio.request_validator import RequestValidator

        # Twilio signs the upgrade request with its usual scheme over the wss URL it was given.
        headers["X-Twilio-Signature"] = RequestValidator(auth_token).compute_signature(answer.url, {})
    hint = ""
    if urlsplit(url).netloc != urlsplit(base_url).netloc:
        hint = " (l'url du flux vient du TwiML ; --rewrite-host pour joindre l'hôte de --url)"
    try:
        ws = await connect(url, additional_headers=headers, ping_interval=None, max_size=2**22,
                           open_timeout=HTTP_TIMEOUT_SECS)
    except (OSError, InvalidHandshake, InvalidURI, TimeoutError) as e:
        raise SimulationError(f"connexion au flux média impossible : {url} ({e}){hint}") from None
    call = _MediaCall(ws, encoder, summary, realtime=realtime)
    receiver = asyncio.create_task(call.receive())
    who = "server"
    try:
        try:
            await call.open(answer.parameters)
        except _ServerClosed:
            pass
        else:
            who = await call.run(prepared, listen_secs_after)
    finally:
        with contextlib.suppress(Exception):
            await ws.close()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(receiver, 5)
        if not receiver.done():
            receiver.cancel()
    call.results()
    if out is not None:
        write_wav(out, call.playout.played_audio())
        summary.reply_wav = str(out)
    return who


async def _after_stream(client: httpx.AsyncClient, answer: StreamInstruction, encoder: StreamEncoder,
                        caller: str, called: str, base_url: str, signing_base: str, rewrite: bool,
                        auth_token: str | None) -> FinalVerb:
    """The stream is over and the caller still on the line: Twilio requests the <Connect action>."""
    if not answer.action:
        return answer.after or FinalVerb("hangup", None, "")
    if answer.method != "POST":
        raise SimulationError(f"<Connect method={answer.method!r}> : le simulateur ne fait que POST")
    # A relative action is resolved against the webhook's URL, as Twilio does.
    action = urljoin(signing_base + "/twilio/voice", answer.action)
    url = rewrite_host(action, base_url) if rewrite else action
    form = _form(encoder.call_sid, encoder.account_sid, caller, called, "in-progress")
    twiml = await _post_twiml(client, url, action, form, auth_token)
    try:
        return parse_final_verb(twiml)
    except TwimlError as e:
        raise SimulationError(f"TwiML invalide en réponse à {answer.action} : {e}") from None
