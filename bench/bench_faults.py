"""Fault matrix: each fault of issue 11 against a live server with the real engines.

Starts `callbot serve` (package-shipped Vosk and Piper models, temporary SQLite database, the
recogniser's words from CALLBOT_ASR_SCRIPT), places calls exactly as Twilio does
(`callbot.devtools.simulator`), injects each fault, and prints per fault:
  - silence (s): the longest wait the caller had for the bot's voice (greeting, each reply) or for
    the TwiML that hands them over; "-" when the caller is not waiting (silent caller, dead server),
  - outcome: the call's final outcome in the database (and the last TwiML verb),
  - lost: records expected but missing once the fault is over (call rows, caller turns, outcomes),
  - next call ok: after the fault, /healthz is ok and a new call is taken by the bot.

    .venv/bin/python bench/bench_faults.py [--only NAME ...] [--lock-secs 45] [--json]

Faults: baseline, sqlite_locked, frame_12mb, flood_20000, binary_first, endless_speech,
silence_in_hours, overload_2x, sigterm_2_calls, sigkill_5_calls, silence_out_of_hours.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_call import BIN, PROMPT_CACHE, REPO, free_port, test_models, wait_healthy  # noqa: E402

IN_HOURS = "2026-11-24T10:00:00+01:00"  # a Tuesday morning: agents on duty
OUT_OF_HOURS = "2026-11-24T22:30:00+01:00"
AGENT = "je voudrais parler à quelqu'un"
QUESTION = "quels sont les horaires de la mairie"
# One caller number per fault: the ASR script gives each its own words.
SCRIPT = {
    "+33610000001": [AGENT],
    "+33610000002": [AGENT],
    "+33610000003": [QUESTION],
    "+33610000004": [],
    "+33610000005": [AGENT],
    "+33610000006": [QUESTION, QUESTION],
    "+33610000007": [],
}
MAX_CALLS = 5  # the bench server's capacity (overload_2x places twice as many at once)
MAX_SPEECH_SECS = 8
CONNECTED = json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"})


@dataclass
class Row:
    fault: str
    silence_s: float | None
    outcome: str
    lost: int
    next_call_ok: bool
    note: str = ""


class Server:
    def __init__(self, work: Path, now: str) -> None:
        self.work, self.now = work, now
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.db = work / "calls.db"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        asr, voice = test_models()
        (self.work / "script.json").write_text(json.dumps(SCRIPT, ensure_ascii=False))
        env = dict(
            os.environ,
            CALLBOT_ASR_MODEL=str(asr),
            CALLBOT_TTS_VOICE=str(voice),
            CALLBOT_TTS_LANGUAGE="fr",
            CALLBOT_DATABASE_URL=f"sqlite:///{self.db}",
            CALLBOT_ASR_SCRIPT=str(self.work / "script.json"),
            CALLBOT_PUBLIC_URL=self.url,
            CALLBOT_PORT=str(self.port),
            CALLBOT_FLOWS=str(REPO / "flows"),
            CALLBOT_NOW=self.now,
            CALLBOT_SECRET_KEY="bench-secret",
            CALLBOT_PROMPT_CACHE_DIR=str(PROMPT_CACHE),
            CALLBOT_WARM_ANSWERS="false",
            CALLBOT_ALLOW_UNSIGNED="1",
            CALLBOT_MAX_CALLS=str(MAX_CALLS),
            CALLBOT_MAX_SPEECH_SECS=str(MAX_SPEECH_SECS),
            CALLBOT_SHUTDOWN_DRAIN_SECS="5",
            CALLBOT_LOG_LEVEL=os.environ.get("CALLBOT_LOG_LEVEL", "WARNING"),
        )
        log = open(self.work / "server.log", "a")  # noqa: SIM115 - lives as long as the server
        self.proc = subprocess.Popen(
            [str(BIN / "callbot"), "serve", "--port", str(self.port)],
            cwd=self.work,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        wait_healthy(self.url, self.proc)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def row(self, sid: str) -> dict | None:
        with sqlite3.connect(self.db) as conn:
            conn.row_factory = sqlite3.Row
            call = conn.execute("SELECT * FROM calls WHERE call_sid = ?", (sid,)).fetchone()
            if call is None:
                return None
            turns = conn.execute(
                "SELECT speaker, text FROM turns WHERE call_id = ?", (call["id"],)
            ).fetchall()
            return {
                **dict(call),
                "caller_turns": [t["text"] for t in turns if t["speaker"] == "caller"],
                "bot_turns": [t["text"] for t in turns if t["speaker"] == "bot"],
            }

    def settled(self, sid: str, secs: float = 90) -> dict | None:
        deadline = time.monotonic() + secs
        while True:
            row = self.row(sid)
            if (row and row["outcome"] != "in_progress") or time.monotonic() > deadline:
                return row
            time.sleep(0.5)

    def wait_asked(self, sids: list[str], secs: float = 90) -> float:
        """Wait until every call's question is on record (the caller asked and was heard)."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < secs:
            rows = [self.row(sid) for sid in sids]
            if all(r and r["caller_turns"] for r in rows):
                break
            time.sleep(0.5)
        return time.monotonic() - t0

    def next_call_ok(self) -> bool:
        try:
            if httpx.get(self.url + "/healthz", timeout=5).json().get("status") != "ok":
                return False
            sid = "CAnext" + os.urandom(8).hex()
            r = httpx.post(
                self.url + "/twilio/voice", data={"CallSid": sid, "From": "+33600000000"}, timeout=15
            )
            httpx.post(self.url + "/twilio/after-stream", data={"CallSid": sid}, timeout=15)
            return "<Connect" in r.text
        except httpx.HTTPError:
            return False

    def token(self, sid: str) -> str:
        r = httpx.post(self.url + "/twilio/voice", data={"CallSid": sid, "From": "+33600000000"}, timeout=15)
        return r.text.split('name="token" value="')[1].split('"')[0]


def call(server: Server, caller: str, steps: list, listen: float = 10) -> object:
    from callbot.devtools.simulator.call import place_call

    return asyncio.run(place_call(server.url, steps, caller=caller, listen_secs_after=listen))


def silence_of(summary: object, waits: float = 30.0) -> float:
    """The longest the caller waited for the bot's voice: the greeting and each reply."""
    gaps = [summary.greeting_ms / 1000 if summary.greeting_ms is not None else waits]
    gaps += [
        t.first_audio_ms / 1000 if t.first_audio_ms is not None else waits
        for t in summary.turns
        if t.kind in ("say", "dtmf")
    ]
    return round(max(gaps), 1)


def lost(row: dict | None, caller_turns: int, summary: object = None) -> int:
    """Records missing: the call row, its outcome, the caller turns known to have been heard, and
    any bot reply the caller heard (greeting, replies) that is not on record."""
    heard = 0
    if summary is not None and getattr(summary, "stream_sid", None):
        heard = (summary.greeting_ms is not None) + sum(t.first_audio_ms is not None for t in summary.turns)
    if row is None:
        return 1 + caller_turns + 1 + heard  # the call, its turns, its outcome
    missing_bot = max(0, heard - len(row["bot_turns"]))
    return max(0, caller_turns - len(row["caller_turns"])) + (row["outcome"] == "in_progress") + missing_bot


def describe(row: dict | None, verb: str | None = None) -> str:
    if row is None:
        return "no record"
    text = row["outcome"] + (f"/{row['transfer_reason']}" if row.get("transfer_reason") else "")
    return f"{text} ({verb})" if verb else text


def socket_fault(server: Server, sid: str, messages: list) -> int | None:
    """Send the messages on a media socket; the close code the server answered with."""
    try:
        with connect(
            server.url.replace("http://", "ws://") + "/twilio/media", max_size=None, open_timeout=15
        ) as ws:
            for m in messages:
                ws.send(m)
            while True:
                ws.recv(timeout=30)
    except ConnectionClosed as e:
        return e.rcvd.code if e.rcvd else None
    except TimeoutError:
        return None


def start_msg(sid: str, token: str) -> str:
    return json.dumps(
        {
            "event": "start",
            "streamSid": "MZ" + sid[2:],
            "start": {
                "callSid": sid,
                "streamSid": "MZ" + sid[2:],
                "customParameters": {"token": token, "caller": "+336"},
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
            },
        }
    )


# -- faults -------------------------------------------------------------------------------------
def baseline(server: Server, _: argparse.Namespace) -> Row:
    from callbot.devtools.simulator.steps import Say, WaitForBot

    s = call(server, "+33610000001", [WaitForBot(30), Say(AGENT), WaitForBot(30)])
    row = server.settled(s.call_sid)
    return Row(
        "baseline", silence_of(s), describe(row, s.outcome["verb"]), lost(row, 1, s), server.next_call_ok()
    )


def sqlite_locked(server: Server, args: argparse.Namespace) -> Row:
    from callbot.devtools.simulator.steps import Say, WaitForBot

    lock = sqlite3.connect(server.db, isolation_level=None, check_same_thread=False)
    lock.execute("BEGIN IMMEDIATE")
    release = threading.Timer(args.lock_secs, lambda: (lock.rollback(), lock.close()))
    release.start()
    t0 = time.monotonic()
    s = call(server, "+33610000002", [WaitForBot(30), Say(AGENT), WaitForBot(30)])
    during = time.monotonic() - t0
    release.join()
    row = server.settled(s.call_sid, 60)
    return Row(
        f"sqlite_locked_{args.lock_secs:g}s",
        silence_of(s),
        describe(row, s.outcome["verb"]),
        lost(row, 1, s),
        server.next_call_ok(),
        f"call over in {during:.0f} s while locked",
    )


def frame_12mb(server: Server, _: argparse.Namespace) -> Row:
    sid = "CA12mb" + os.urandom(6).hex()
    big = json.dumps({"event": "media", "media": {"payload": "A" * 12_000_000}})
    code = socket_fault(server, sid, [CONNECTED, start_msg(sid, server.token(sid)), big])
    row = server.settled(sid, 30)
    return Row("frame_12mb", None, describe(row), lost(row, 0), server.next_call_ok(), f"close {code}")


def flood_20000(server: Server, _: argparse.Namespace) -> Row:
    sid = "CAflood" + os.urandom(6).hex()
    audio = base64.b64encode(b"\xff" * 160).decode()
    frame = json.dumps({"event": "media", "media": {"payload": audio}})
    code = socket_fault(server, sid, [CONNECTED, start_msg(sid, server.token(sid)), *[frame] * 20_000])
    row = server.settled(sid, 30)
    return Row("flood_20000", None, describe(row), lost(row, 0), server.next_call_ok(), f"close {code}")


def binary_first(server: Server, _: argparse.Namespace) -> Row:
    code = socket_fault(server, "CAbin", [CONNECTED, os.urandom(320)])
    return Row("binary_first", None, "socket refused", 0, server.next_call_ok(), f"close {code}")


def endless_speech(server: Server, _: argparse.Namespace) -> Row:
    from callbot.devtools.simulator.steps import Say, WaitForBot

    words = " ".join(["je voudrais savoir quand je peux venir chercher mes papiers et aussi"] * 6)
    s = call(server, "+33610000003", [WaitForBot(30), Say(words), WaitForBot(30)])
    row = server.settled(s.call_sid)
    return Row(
        "endless_speech",
        silence_of(s, 30),
        describe(row, s.outcome["verb"]),
        lost(row, 0, s),
        server.next_call_ok(),
        f"limit {MAX_SPEECH_SECS} s, call {s.duration_seconds:.0f} s",
    )


def silence(name: str, caller: str):  # noqa: ANN201
    def run(server: Server, _: argparse.Namespace) -> Row:
        from callbot.devtools.simulator.steps import Wait, WaitForBot

        s = call(server, caller, [WaitForBot(30), Wait(150)])
        row = server.settled(s.call_sid)
        return Row(
            name,
            None,
            describe(row, s.outcome["verb"]),
            lost(row, 0),
            server.next_call_ok(),
            f"ended by {s.hung_up_by} after {s.duration_seconds:.0f} s",
        )

    return run


def overload_2x(server: Server, _: argparse.Namespace) -> Row:
    from callbot.devtools.simulator.call import place_call
    from callbot.devtools.simulator.steps import Say, WaitForBot

    async def many() -> list:
        steps = [WaitForBot(30), Say(AGENT), WaitForBot(30)]
        return await asyncio.gather(
            *(
                place_call(server.url, steps, caller="+33610000005", listen_secs_after=5)
                for _ in range(2 * MAX_CALLS)
            )
        )

    summaries = asyncio.run(many())
    bot = [s for s in summaries if s.stream_sid]
    people = [s for s in summaries if not s.stream_sid]
    rows = [server.settled(s.call_sid) for s in summaries]
    verbs = sorted({s.outcome["verb"] or "?" for s in summaries})
    worst = max([silence_of(s) for s in bot] or [0.0])
    reasons = "/".join(sorted({r["transfer_reason"] or r["outcome"] for r in rows if r}))
    return Row(
        "overload_2x",
        worst,
        f"{len(bot)} bot, {len(people)} straight to people ({'/'.join(verbs)}; {reasons})",
        sum(lost(r, 0, s) for r, s in zip(rows, summaries, strict=True)),
        server.next_call_ok(),
        f"capacity {MAX_CALLS}",
    )


def sigterm_2_calls(server: Server, _: argparse.Namespace) -> Row:
    """SIGTERM with two calls in progress: new calls go to people, the two are transferred."""
    from callbot.devtools.simulator.call import place_call
    from callbot.devtools.simulator.steps import Say, Wait, WaitForBot

    async def two() -> tuple[list, str]:
        steps = [WaitForBot(30), Say(QUESTION), WaitForBot(30), Wait(60)]
        sids = [f"CAterm{n}" + os.urandom(6).hex() for n in range(2)]
        tasks = [
            asyncio.create_task(
                place_call(server.url, steps, caller="+33610000006", listen_secs_after=5, call_sid=sid)
            )
            for sid in sids
        ]
        await asyncio.to_thread(server.wait_asked, sids)
        server.proc.send_signal(signal.SIGTERM)
        await asyncio.sleep(1)
        async with httpx.AsyncClient() as client:
            r = await client.post(server.url + "/twilio/voice", data={"CallSid": "CAterm", "From": "+336"})
        return await asyncio.gather(*tasks, return_exceptions=True), r.text

    t0 = time.monotonic()
    summaries, during = asyncio.run(two())
    server.proc.wait(timeout=60)
    stopped = time.monotonic() - t0
    server.start()
    failed = [s for s in summaries if isinstance(s, BaseException)]
    summaries = [s for s in summaries if not isinstance(s, BaseException)]
    rows = [server.settled(s.call_sid, 30) for s in summaries]
    verbs = "/".join(sorted({s.outcome["verb"] or "?" for s in summaries} | ({"error"} if failed else set())))
    new_call = "enqueue" if "<Enqueue" in during else ("connect" if "<Connect" in during else "?")
    return Row(
        "sigterm_2_calls",
        None,
        ", ".join(sorted({describe(r) for r in rows})) + f" ({verbs}); new call during drain: {new_call}",
        sum(lost(r, 1) for r in rows),
        server.next_call_ok(),
        f"server stopped {stopped:.0f} s after the calls began (drain 5 s)",
    )


def sigkill_5_calls(server: Server, _: argparse.Namespace) -> Row:
    from callbot.devtools.simulator.call import place_call
    from callbot.devtools.simulator.steps import Say, Wait, WaitForBot

    sids: list[str] = []

    async def five() -> None:
        async def one(n: int) -> None:
            sid = f"CAkill{n}" + os.urandom(6).hex()
            sids.append(sid)
            with contextlib.suppress(Exception):  # the server dies under the call
                await place_call(
                    server.url,
                    [WaitForBot(30), Say(QUESTION), WaitForBot(30), Wait(60)],
                    caller="+33610000006",
                    listen_secs_after=1,
                    call_sid=sid,
                )

        tasks = [asyncio.create_task(one(n)) for n in range(5)]
        await asyncio.sleep(1)
        await asyncio.to_thread(server.wait_asked, sids)  # greeted, asked, heard: mid-call
        server.stop(signal.SIGKILL)
        await asyncio.gather(*tasks)

    asyncio.run(five())
    server.start()
    rows = [server.settled(sid, 30) for sid in sids]
    outcomes = sorted({describe(r) for r in rows})
    return Row(
        "sigkill_5_calls",
        None,
        ", ".join(outcomes),
        sum(lost(r, 1) for r in rows),
        server.next_call_ok(),
        "restarted",
    )


FAULTS = {
    "baseline": baseline,
    "sqlite_locked": sqlite_locked,
    "frame_12mb": frame_12mb,
    "flood_20000": flood_20000,
    "binary_first": binary_first,
    "endless_speech": endless_speech,
    "silence_in_hours": silence("silence_150s_in_hours", "+33610000004"),
    "overload_2x": overload_2x,
    "sigterm_2_calls": sigterm_2_calls,
    "sigkill_5_calls": sigkill_5_calls,
}
NIGHT_FAULTS = {"silence_out_of_hours": silence("silence_150s_out_of_hours", "+33610000007")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="run only these faults")
    parser.add_argument("--lock-secs", type=float, default=45)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--keep", type=Path, help="keep the servers' databases, journals and logs here")
    args = parser.parse_args()
    chosen = set(args.only or [*FAULTS, *NIGHT_FAULTS])
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bench-faults-") as tmp_dir:
        tmp = args.keep or tmp_dir
        for now, faults in ((IN_HOURS, FAULTS), (OUT_OF_HOURS, NIGHT_FAULTS)):
            todo = [f for f in faults if f in chosen]
            if not todo:
                continue
            work = Path(tmp) / now[11:13]
            work.mkdir()
            server = Server(work, now)
            server.start()
            try:
                for name in todo:
                    t0 = time.monotonic()
                    row = faults[name](server, args)
                    row.note = f"{row.note}; {time.monotonic() - t0:.0f} s".lstrip("; ")
                    rows.append(row)
                    print(f"  {row.fault}: {asdict(row)}", file=sys.stderr, flush=True)
            finally:
                server.stop()
    if args.json:
        print(json.dumps([asdict(r) for r in rows], ensure_ascii=False, indent=2))
        return 0
    print(f"{'fault':28} {'silence (s)':>11}  {'lost':>4}  {'next ok':7}  outcome  [note]")
    for r in rows:
        silence_s = "-" if r.silence_s is None else f"{r.silence_s:.1f}"
        print(f"{r.fault:28} {silence_s:>11}  {r.lost:>4}  {str(r.next_call_ok):7}  {r.outcome}  [{r.note}]")
    return 0 if all(r.lost == 0 and r.next_call_ok and (r.silence_s or 0) <= 10 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
