"""Conversation tests written in YAML (flows/tests/*.yaml), run by `callbot flows test`.

Each test is a scripted call at a pinned moment: caller steps (say / dtmf / silence) with what
the bot must do (intent, topic, action, text it contains, transfer, end, outcome, callback).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from pydantic import ValidationError

from callbot.dialog.call_timing import CallClock, words_clock
from callbot.dialog.engine import DialogEngine, make_nlu
from callbot.dialog.flows import _LOADER, FlowError, Flows, _line_for, _line_map, load_flows
from callbot.dialog.schema import FlowTest, FlowTestFile, FlowTestStep
from callbot.dialog.types import Reply


@dataclass
class FlowTestResult:
    file: str
    name: str
    failures: list[str] = field(default_factory=list)
    transcript: list[str] = field(default_factory=list)
    first_answer_secs: float | None = None  # from the start of the call to the first answer
    call_secs: float = 0.0  # the whole call, as the caller lives it (call_timing.py)

    @property
    def ok(self) -> bool:
        return not self.failures


def parse_now(value: str | None, tz: str) -> datetime:
    if not value:
        return datetime.now(ZoneInfo(tz))
    dt = datetime.fromisoformat(value)
    return dt if dt.tzinfo else dt.replace(tzinfo=ZoneInfo(tz))


def load_tests(tests_dir: Path) -> list[tuple[str, FlowTest]]:
    """Every test of the directory. Raises FlowError (file:line: field: message) on a bad file."""
    errors: list[str] = []
    out: list[tuple[str, FlowTest]] = []
    files = sorted(tests_dir.glob("*.y*ml")) if tests_dir.is_dir() else [tests_dir]
    for f in files:
        rel = f.name
        try:
            text = f.read_text(encoding="utf-8")
            node = yaml.compose(text, Loader=_LOADER)
            data = yaml.load(text, Loader=_LOADER)
        except (OSError, yaml.YAMLError) as e:
            mark = getattr(e, "problem_mark", None)
            errors.append(f"{rel}:{mark.line + 1 if mark else 1}: (syntaxe YAML): {e}")
            continue
        lines = _line_map(node) if node is not None else {}
        try:
            parsed = FlowTestFile.model_validate(data)
        except ValidationError as e:
            for err in e.errors():
                loc = tuple(err["loc"])
                errors.append(f"{rel}:{_line_for(lines, loc)}: {'.'.join(map(str, loc))}: {err['msg']}")
            continue
        out += [(rel, t) for t in parsed.tests]
    if errors:
        raise FlowError(errors)
    return out


def _as_list(value: str | list[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def check_step(step: FlowTestStep, reply: Reply) -> list[str]:
    """What differs between the bot's reply and the step's expectations (empty: all good)."""
    fails: list[str] = []
    u = reply.understanding
    said = " ".join(p.text for p in reply.prompts)
    if step.intent is not None and (u is None or u.intent != step.intent):
        fails.append(f"intention attendue {step.intent!r}, obtenue {u.intent if u else None!r}")
    if step.topic is not None and (u is None or u.topic != step.topic):
        fails.append(f"thème attendu {step.topic!r}, obtenu {u.topic if u else None!r}")
    if step.action is not None and reply.action != step.action:
        fails.append(f"action attendue {step.action!r}, obtenue {reply.action!r}")
    for part in _as_list(step.contains):
        if part.casefold() not in said.casefold():
            fails.append(f"la réponse ne contient pas {part!r}")
    for part in _as_list(step.not_contains):
        if part.casefold() in said.casefold():
            fails.append(f"la réponse contient {part!r}")
    if step.transfer is True and reply.transfer is None:
        fails.append("transfert attendu, aucun")
    elif step.transfer is False and reply.transfer is not None:
        fails.append(f"aucun transfert attendu, obtenu {reply.transfer.target}")
    elif isinstance(step.transfer, str):
        got = reply.transfer.target if reply.transfer else None
        if got != step.transfer:
            fails.append(f"transfert vers {step.transfer!r} attendu, obtenu {got!r}")
    if step.end is not None and (reply.end or "none") != step.end:
        fails.append(f"fin attendue {step.end!r}, obtenue {reply.end!r}")
    if step.outcome is not None and reply.outcome != step.outcome:
        fails.append(f"issue attendue {step.outcome!r}, obtenue {reply.outcome!r}")
    if step.callback is not None and (reply.callback is not None) != step.callback:
        fails.append("demande de rappel attendue" if step.callback else "aucune demande de rappel attendue")
    return fails


def run_test(flows: Flows, nlu: Any, file: str, test: FlowTest,  # noqa: ANN401
             seconds_of: Callable[[str], float] | None = None) -> FlowTestResult:
    now = parse_now(test.now, flows.commune.timezone)
    engine = DialogEngine(flows, nlu, lambda: now)
    conv = engine.new_conversation(caller=test.caller)
    result = FlowTestResult(file, test.name)
    clock = CallClock(seconds_of or words_clock(flows.settings.speech.words_per_second))
    start = conv.start()
    clock.bot(start)
    result.transcript.append("bot> " + " ".join(p.text for p in start.prompts))
    last: Reply = start
    for i, step in enumerate(test.steps, 1):
        if step.say is not None:
            clock.caller_says(step.say)
            label, reply = f"« {step.say} »", conv.hear(step.say)
        elif step.dtmf is not None:
            clock.caller_presses(step.dtmf)
            reply = None
            for key in step.dtmf:
                pressed = conv.dtmf(key)
                # Keys that only collect digits say nothing: check the last reply that spoke.
                if reply is None or pressed.prompts or pressed.end:
                    reply = pressed
            label = f"touche(s) {step.dtmf}"
        else:
            clock.caller_silent(last)
            label, reply = "(silence)", conv.silence()
        assert reply is not None
        clock.answer(reply)
        last = reply
        result.transcript.append(f"appelant> {label}")
        result.transcript.append("bot> " + " ".join(p.text for p in reply.prompts))
        for fail in check_step(step, reply):
            result.failures.append(f"étape {i} ({label}) : {fail}")
    result.first_answer_secs, result.call_secs = clock.first_answer_at, clock.now
    if test.max_seconds is not None and clock.now > test.max_seconds:
        result.failures.append(f"appel de {clock.now:.1f} s, au-delà de {test.max_seconds:g} s")
    if (test.max_first_answer_seconds is not None
            and (clock.first_answer_at is None or clock.first_answer_at > test.max_first_answer_seconds)):
        result.failures.append(f"première réponse à {clock.first_answer_at or 0:.1f} s, au-delà de "
                               f"{test.max_first_answer_seconds:g} s")
    return result


def run_flow_tests(flows_dir: Path, tests_dir: Path | None = None,
                   seconds_of: Callable[[str], float] | None = None) -> list[FlowTestResult]:
    """Play every test; `seconds_of` times the bot's speech (default: words at the flows' rate)."""
    flows = load_flows(flows_dir)
    tests = load_tests(tests_dir or Path(flows_dir) / "tests")
    nlu = make_nlu(flows)
    return [run_test(flows, nlu, f, t, seconds_of) for f, t in tests]
