"""Load benchmark: many simultaneous calls on the wire, one OS process per caller, real French speech.

Starts `callbot serve` with the package-shipped models (CALLBOT_DEMO_MODELS=1, a throw-away SQLite
database, the scripted-recogniser seam so the bot "hears" French questions while Vosk still decodes
the real audio). Caller audio: French prompts of Debian's `asterisk-core-sounds-fr-wav` (2–4 s),
fetched once with `apt-get download` into ~/.cache/callbot-bench (never committed). Each caller
is a separate process (`callbot.devtools.simulator.call.place_call`): it waits for the end of the
greeting, speaks one clip, waits for the answer, hangs up. Measured on the caller's side of the
wire: greeting (stream start → first bot audio), response (end of caller audio → first bot audio),
calls without reply, underruns (bot audio resuming > 100 ms after playback ran dry). From /proc:
server CPU, server RSS start → max, machine CPU.

Modes:
  --mode rate   one new call per second (default)       --calls 20
  --mode burst  callers stop speaking in the same second --calls 12
  --mode ramp   rate mode at --steps 4,8,12,16,20 until a step misses the targets
  --mode soak   --calls 500 short calls, --parallel at a time; RSS every --every calls

    .venv/bin/python bench/bench_load.py --mode rate --calls 20 [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import wave
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
from bench_call import NOW, PROMPT_CACHE, QUESTIONS, cpu_seconds, free_port, percentile  # noqa: E402

BIN = Path(sys.executable).parent
SOUNDS_CACHE = Path(os.environ.get("CALLBOT_BENCH_CACHE", Path.home() / ".cache" / "callbot-bench"))
SOUNDS_PACKAGE = "asterisk-core-sounds-fr-wav"
GAP_LIMIT_MS = 100.0
TARGETS = {  # issue 13
    "rate": {"response_p95": 800.0, "greeting_p95": 300.0},
    "burst": {"response_p95": 1500.0, "greeting_p95": None},
}
CPU_S_PER_CALL_MINUTE = 8.0


# ---- caller audio --------------------------------------------------------------------------------

def french_clips(low: float = 2.0, high: float = 4.0) -> list[tuple[Path, float]]:
    """(WAV, seconds) of the Debian package's French prompts lasting low..high seconds."""
    root = SOUNDS_CACHE / "root" / "usr" / "share" / "asterisk" / "sounds"
    if not root.is_dir():
        SOUNDS_CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(["apt-get", "download", SOUNDS_PACKAGE], cwd=SOUNDS_CACHE, check=True,
                       stdout=subprocess.DEVNULL)
        deb = sorted(SOUNDS_CACHE.glob(f"{SOUNDS_PACKAGE}_*.deb"))[-1]
        subprocess.run(["dpkg-deb", "-x", str(deb), str(SOUNDS_CACHE / "root")], check=True)
    clips = []
    for path in sorted(root.rglob("*.wav")):
        if "silence" in path.parts:
            continue
        with wave.open(str(path)) as w:
            secs = w.getnframes() / w.getframerate()
        if low <= secs <= high:
            clips.append((path, secs))
    if not clips:
        raise RuntimeError(f"no French clip of {low}-{high} s under {root}")
    return clips


# ---- callers: one process each -------------------------------------------------------------------

def _caller_process(tasks: Any, results: Any, ready: Any, go: Any, start_at: Any, url: str) -> None:  # noqa: ANN401
    """Runs calls from `tasks` (None: stop) until told to stop; one call at a time."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from callbot.devtools.simulator.call import Hangup, WaitForBot, Wav, place_call

    ready.release()
    go.wait()
    while (spec := tasks.get()) is not None:
        delay = start_at.value + spec["offset"] - time.time()
        if delay > 0:
            time.sleep(delay)
        steps = [WaitForBot(30, quiet=1.0), Wav(Path(spec["clip"])), WaitForBot(30, quiet=1.0), Hangup()]
        try:
            s = asyncio.run(place_call(url, steps, caller=spec["caller"]))
            turn = s.turns[0] if s.turns else None
            results.put({"n": spec["n"], "greeting_ms": s.greeting_ms,
                         "response_ms": turn.first_audio_ms if turn else None,
                         # The caller spoke over the greeting: the "response" is the greeting's rest.
                         "over_bot": bool(turn and turn.bot_was_speaking),
                         "caller_end": time.time(), "underruns_ms": s.underruns_ms,
                         "underruns_at_ms": s.underruns_at_ms,
                         "turn_ended_at_ms": turn.ended_at_ms if turn else None,
                         "duration_s": s.duration_seconds, "pacing_late_ms": s.pacing_max_late_ms,
                         "timeouts": s.timeouts, "error": None,
                         # Admission control: no stream, the webhook sent the caller to people.
                         "to_people": s.stream_sid is None
                         and (s.outcome or {}).get("verb") in ("enqueue", "dial")})
        except Exception as e:  # a failed call is a result, not a crash of the benchmark
            results.put({"n": spec["n"], "error": f"{type(e).__name__}: {e}"})


class Callers:
    """`count` caller processes, imports done before the first call is placed."""

    def __init__(self, count: int, url: str) -> None:
        ctx = mp.get_context("spawn")
        self.tasks, self.results = ctx.Queue(), ctx.Queue()
        ready, self.go, self.start_at = ctx.Semaphore(0), ctx.Event(), ctx.Value("d", 0.0)
        self.procs = [ctx.Process(target=_caller_process, daemon=True,
                                  args=(self.tasks, self.results, ready, self.go, self.start_at, url))
                      for _ in range(count)]
        for p in self.procs:
            p.start()
        for _ in self.procs:
            ready.acquire()

    def run(self, specs: list[dict], on_result: Any = None) -> list[dict]:  # noqa: ANN401
        self.start_at.value = time.time() + 1.0
        for spec in specs:
            self.tasks.put(spec)
        self.go.set()
        out = []
        for _ in specs:
            r = self.results.get(timeout=180)
            out.append(r)
            if on_result:
                on_result(len(out))
        return out

    def close(self) -> None:
        for _ in self.procs:
            self.tasks.put(None)
        for p in self.procs:
            p.join(10)
            if p.is_alive():
                p.kill()


# ---- the server ----------------------------------------------------------------------------------

def start_server(work: Path, port: int, script: Path, src: Path | None, extra: list[str],
                 workers: int = 1) -> subprocess.Popen:
    """`src`: run the server from another checkout's sources (main, for a baseline); the callers
    always use this checkout's simulator."""
    env = dict(os.environ, CALLBOT_DEMO_MODELS="1", CALLBOT_ALLOW_UNSIGNED="1",
               CALLBOT_DATABASE_URL=f"sqlite:///{work / 'calls.db'}", CALLBOT_ASR_SCRIPT=str(script),
               CALLBOT_PORT=str(port), CALLBOT_FLOWS=str(REPO / "flows"), CALLBOT_NOW=NOW,
               CALLBOT_SECRET_KEY="bench-secret", CALLBOT_PROMPT_CACHE_DIR=str(PROMPT_CACHE),
               CALLBOT_LOG_LEVEL=os.environ.get("CALLBOT_LOG_LEVEL", "WARNING"))
    if src is not None:
        env["PYTHONPATH"] = str(src)
    env.update(item.split("=", 1) for item in extra)
    log = open(work / "server.log", "w")  # noqa: SIM115 - lives as long as the server
    return subprocess.Popen([str(BIN / "callbot"), "serve", "--port", str(port), "--workers", str(workers)],
                            cwd=work, env=env,
                            stdout=log, stderr=subprocess.STDOUT)


def wait_ready(url: str, proc: subprocess.Popen, warm_secs: float) -> dict:
    """Healthy, then (at most `warm_secs` more) the flows' answers synthesised and the burst's
    recognisers warmed in the background: the first run fills var/bench-prompt-cache, later runs
    find it there."""
    import httpx

    deadline, health = time.monotonic() + 900, {}
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with code {proc.returncode}")
        try:
            r = httpx.get(url + "/healthz", timeout=2)
            if r.status_code == 200:
                health = r.json()
                if not health.get("answers_warming") and not health.get("recognizers_warming"):
                    return health
                deadline = min(deadline, time.monotonic() + warm_secs)
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    if not health:
        raise RuntimeError("the server did not become healthy in time")
    print("note: answers still warming in the background; some replies are synthesised during calls")
    return health


def server_pids(pid: int) -> list[int]:
    """The server and its worker processes (`--workers N`), from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(stat.parent.name))
    tree, todo = [], [pid]
    while todo:
        p = todo.pop()
        tree.append(p)
        todo.extend(children.get(p, []))
    return tree


def rss_mb(pid: int) -> float:
    total = 0.0
    for p in server_pids(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
        except OSError:
            continue
    return total


def tree_cpu_seconds(pid: int) -> float:
    total = 0.0
    for p in server_pids(pid):
        try:
            total += cpu_seconds(p)
        except OSError:
            continue
    return total


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all cores, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


class Sampler:
    """Server RSS every 0.5 s while a load runs; CPU of the server and the machine over the run."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.rss_start = rss_mb(pid)
        self.rss_max = self.rss_start
        self._stop = threading.Event()
        self._cpu0, self._machine0 = tree_cpu_seconds(pid), machine_busy()
        self._t0 = time.monotonic()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            self.rss_max = max(self.rss_max, rss_mb(self.pid))

    def stop(self) -> dict:
        self._stop.set()
        self._thread.join()
        wall = time.monotonic() - self._t0
        cpu = tree_cpu_seconds(self.pid) - self._cpu0
        busy1, total1 = machine_busy()
        busy = (busy1 - self._machine0[0]) / max(1, total1 - self._machine0[1])
        return {"wall_s": round(wall, 1), "server_cpu_s": round(cpu, 1),
                "server_cpu_pct": round(100 * cpu / wall), "machine_cpu_pct": round(100 * busy),
                "rss_start_mb": round(self.rss_start),
                "rss_max_mb": round(max(self.rss_max, rss_mb(self.pid))),
                "rss_end_mb": round(rss_mb(self.pid))}


# ---- one load ------------------------------------------------------------------------------------

def plan(mode: str, calls: int, clips: list[tuple[Path, float]]) -> list[dict]:
    """Who calls when (seconds from the start) with which clip. `burst`: clips of 2.5–3.5 s and
    the same arrival second, so callers stop speaking within the same second."""
    if mode == "burst":
        pool = [c for c in clips if 2.5 <= c[1] <= 3.5] or clips
        return [{"n": n, "offset": 0.0, "clip": str(pool[n % len(pool)][0]), "caller": caller_number(n)}
                for n in range(calls)]
    step = 1.0 if mode == "rate" else 0.0
    return [{"n": n, "offset": n * step, "clip": str(clips[(n * 7) % len(clips)][0]),
             "caller": caller_number(n)} for n in range(calls)]


def caller_number(n: int) -> str:
    return f"+3361{n:08d}"


def summarise(mode: str, results: list[dict], usage: dict) -> dict:
    ok = [r for r in results if not r.get("error")]
    greetings = [r["greeting_ms"] for r in ok if r["greeting_ms"] is not None]
    responses = [r["response_ms"] for r in ok if r["response_ms"] is not None and not r["over_bot"]]
    over_bot = sum(1 for r in ok if r["over_bot"])
    to_people = sum(1 for r in ok if r.get("to_people"))
    gaps = [g for r in ok for g in r["underruns_ms"] if g > GAP_LIMIT_MS]
    # Whether each gap fell in the greeting (before the caller's turn) or in the answer.
    in_greeting = sum(1 for r in ok
                      for g, at in zip(r["underruns_ms"], r.get("underruns_at_ms", []), strict=False)
                      if g > GAP_LIMIT_MS and at < (r.get("turn_ended_at_ms") or float("inf")))
    minutes = sum(r["duration_s"] for r in ok) / 60
    ends = sorted(r["caller_end"] for r in ok)
    out = {
        "mode": mode, "calls": len(results), "errors": [r["error"] for r in results if r.get("error")],
        "greeting_ms": stats(greetings), "response_ms": stats(responses),
        "without_reply": len(results) - len(responses) - over_bot - to_people, "spoke_over_bot": over_bot,
        "sent_to_people": to_people,
        "no_greeting": len(ok) - len(greetings),
        "gaps_over_100ms": len(gaps), "longest_gap_ms": max(gaps, default=0.0),
        "gaps_in_greeting": in_greeting,
        "client_pacing_max_late_ms": max((r["pacing_late_ms"] for r in ok), default=None),
        "server_cpu_s_per_call_minute": round(usage["server_cpu_s"] / minutes, 2) if minutes else None,
        "load_average": os.getloadavg(), **usage,
    }
    if mode == "burst" and ends:
        out["finish_spread_s"] = round(ends[-1] - ends[0], 1)
    out["meets_targets"] = meets(out)
    return out


def stats(values: list[float]) -> dict:
    return {"p50": rnd(percentile(values, 50)), "p95": rnd(percentile(values, 95)),
            "max": rnd(max(values, default=None))}


def rnd(v: float | None) -> float | None:
    return None if v is None else round(v)


def meets(r: dict) -> bool:
    t = TARGETS.get(r["mode"], TARGETS["rate"])
    if (r["errors"] or r["without_reply"] or r.get("sent_to_people") or r["spoke_over_bot"]
            or r["response_ms"]["p95"] is None):
        return False
    ok = r["response_ms"]["p95"] <= t["response_p95"]
    if t["greeting_p95"] is not None:
        ok = ok and (r["greeting_ms"]["p95"] or 0) <= t["greeting_p95"] and r["gaps_over_100ms"] == 0
    cpu = r["server_cpu_s_per_call_minute"]
    return ok and cpu is not None and cpu <= CPU_S_PER_CALL_MINUTE


def show(r: dict) -> None:
    g, s = r["greeting_ms"], r["response_ms"]
    print(f"== {r['mode']}: {r['calls']} calls, load average {r['load_average'][0]:.1f} "
          f"(1 min) before the summary; meets targets: {'YES' if r['meets_targets'] else 'no'}")
    print(f"   greeting  p50 {g['p50']} / p95 {g['p95']} / max {g['max']} ms")
    print(f"   response  p50 {s['p50']} / p95 {s['p95']} / max {s['max']} ms; "
          f"without reply {r['without_reply']}; sent straight to people (beyond capacity) "
          f"{r['sent_to_people']}; spoke over a late greeting {r['spoke_over_bot']}"
          + (f"; callers finished within {r['finish_spread_s']} s" if "finish_spread_s" in r else ""))
    print(f"   gaps > {GAP_LIMIT_MS:.0f} ms inside bot speech: {r['gaps_over_100ms']} "
          f"({r['gaps_in_greeting']} in greetings; longest "
          f"{r['longest_gap_ms']} ms); client pacing max late {r['client_pacing_max_late_ms']} ms")
    print(f"   server CPU {r['server_cpu_s']} s over {r['wall_s']} s ({r['server_cpu_pct']} %), "
          f"{r['server_cpu_s_per_call_minute']} CPU-s per minute of call; "
          f"machine CPU {r['machine_cpu_pct']} %")
    print(f"   server RSS {r['rss_start_mb']} → max {r['rss_max_mb']} MB (end {r['rss_end_mb']} MB)")
    if r["errors"]:
        print(f"   errors: {r['errors'][:3]}")


def run_load(callers: Callers, pid: int, mode: str, calls: int, clips: list) -> dict:
    sampler = Sampler(pid)
    results = callers.run(plan(mode, calls, clips))
    return summarise(mode, results, sampler.stop())


def run_soak(callers: Callers, pid: int, calls: int, every: int, clips: list) -> dict:
    """Many short calls; RSS after every `every` calls. Target: RSS(all) ≤ RSS(first 20) + 100 MB."""
    marks: list[tuple[int, float]] = [(0, rss_mb(pid))]
    print(f"   after 0 calls: RSS {marks[0][1]:.0f} MB", flush=True)

    def checkpoint(done: int) -> None:
        if done % every == 0 or done == calls:
            marks.append((done, rss_mb(pid)))
            print(f"   after {done} calls: RSS {marks[-1][1]:.0f} MB", flush=True)

    sampler = Sampler(pid)
    results = callers.run(plan("soak", calls, clips), on_result=checkpoint)
    usage = sampler.stop()
    first = next((m for n, m in marks if n >= 20), marks[-1][1])
    out = summarise("soak", results, usage)
    out.update(rss_checkpoints_mb=[(n, round(m)) for n, m in marks], rss_after_20_mb=round(first),
               rss_final_mb=round(marks[-1][1]), flat_memory=marks[-1][1] <= first + 100)
    print(f"   RSS after 20 calls {first:.0f} MB, after {calls}: {marks[-1][1]:.0f} MB "
          f"(target ≤ +100 MB: {'YES' if out['flat_memory'] else 'no'})")
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--mode", choices=("rate", "burst", "ramp", "soak"), default="rate")
    p.add_argument("--calls", type=int, default=None, help="rate: 20, burst: 12, soak: 500")
    p.add_argument("--steps", default="4,8,12,16,20", help="ramp: call counts, in order")
    p.add_argument("--parallel", type=int, default=4, help="soak: calls at a time")
    p.add_argument("--every", type=int, default=20, help="soak: RSS every N calls")
    p.add_argument("--warm-secs", type=float, default=300,
                   help="longest wait for background answer synthesis")
    p.add_argument("--server-src", type=Path, help="serve from this src/ (e.g. main's, for a baseline)")
    p.add_argument("--server-env", action="append", default=[], metavar="CALLBOT_X=VALUE",
                   help="a setting for the server, e.g. CALLBOT_ASR_PROFILE=fast (repeatable)")
    p.add_argument("--workers", type=int, default=1, help="server processes (`callbot serve --workers`)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--keep-log", help="copy the server's log here")
    args = p.parse_args()
    calls = args.calls or {"rate": 20, "burst": 12, "soak": 500}.get(args.mode, 0)
    steps = [int(s) for s in args.steps.split(",")] if args.mode == "ramp" else [calls]
    clips = french_clips()
    print(f"uptime: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    print(f"{len(clips)} French clips of 2–4 s from {SOUNDS_PACKAGE}", flush=True)

    reports = []
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        work = Path(tmp)
        most = max(steps) if args.mode != "soak" else calls
        script = work / "asr-script.json"
        script.write_text(json.dumps({caller_number(n): [QUESTIONS[n % len(QUESTIONS)]] for n in range(most)},
                                     ensure_ascii=False))
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        proc = start_server(work, port, script, args.server_src, args.server_env, args.workers)
        callers = None
        try:
            health = wait_ready(url, proc, args.warm_secs)
            print(f"server pid {proc.pid} ready; load times {health.get('load_secs')}", flush=True)
            callers = Callers(args.parallel if args.mode == "soak" else max(steps), url)
            if args.mode == "soak":
                reports.append(run_soak(callers, proc.pid, calls, args.every, clips))
                show(reports[-1])
            for n in steps if args.mode != "soak" else []:
                mode = "burst" if args.mode == "burst" else "rate"
                reports.append(run_load(callers, proc.pid, mode, n, clips))
                show(reports[-1])
                if args.mode == "ramp" and not reports[-1]["meets_targets"]:
                    break
                time.sleep(3)  # let the last calls' hang-ups settle
        finally:
            if callers is not None:
                callers.close()
            proc.terminate()  # SIGINT may be ignored: a background job inherits SIG_IGN for it
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
            if args.keep_log:
                Path(args.keep_log).write_text((work / "server.log").read_text(errors="replace"))
    passing = [r["calls"] for r in reports if r["meets_targets"] and r["mode"] != "soak"]
    if args.mode != "soak":
        print(f"largest load meeting the targets: {max(passing) if passing else 'none'} "
              f"({'one new call per second' if args.mode != 'burst' else 'same second'})")
    if args.json:
        print(json.dumps(reports, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO / "src"))
    raise SystemExit(main())
