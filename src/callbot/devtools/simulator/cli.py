"""The `callbot simulate` command: steps from the command line (in their order) or a YAML script."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

import typer
import yaml

from callbot.devtools.documents import read_document
from callbot.devtools.simulator.steps import DTMF_DIGITS, Dtmf, Hangup, Say, Step, Wait, WaitForBot, Wav

if TYPE_CHECKING:
    from callbot.devtools.simulator.summary import CallSummary

STEP_OPTIONS = ("--say", "--wav", "--dtmf", "--wait", "--hangup")
# Between two keys of one --dtmf sequence, like a person pressing them.
DTMF_GAP_SECS = 0.3


class StepSyntaxError(ValueError):
    pass


def _number(value: str, option: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise StepSyntaxError(f"{option} attend un nombre de secondes, pas {value!r}") from None
    if seconds < 0:
        raise StepSyntaxError(f"{option} attend une durée positive")
    return seconds


def _digits(value: str) -> list[Step]:
    steps: list[Step] = []
    for i, digit in enumerate(value):
        if digit not in DTMF_DIGITS:
            raise StepSyntaxError(f"--dtmf : touche invalide {digit!r} (0-9, * ou #)")
        if i:
            steps.append(Wait(DTMF_GAP_SECS))
        steps.append(Dtmf(digit))
    if not steps:
        raise StepSyntaxError("--dtmf attend au moins une touche")
    return steps


def steps_from_args(tokens: list[str]) -> list[Step]:
    """`--say T --dtmf 0 --wait 2 --wav F --hangup` → steps in command-line order (no bot waits)."""
    steps: list[Step] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        option, eq, inline = token.partition("=")
        if option not in STEP_OPTIONS:
            raise StepSyntaxError(f"argument inattendu {token!r} "
                                  f"(étapes possibles : {', '.join(STEP_OPTIONS)})")
        if option == "--hangup":
            if eq:
                raise StepSyntaxError("--hangup ne prend pas de valeur")
            steps.append(Hangup())
            i += 1
            continue
        if eq:
            value = inline
            i += 1
        else:
            if i + 1 >= len(tokens):
                raise StepSyntaxError(f"{option} attend une valeur")
            value = tokens[i + 1]
            i += 2
        if option == "--say":
            if not value.strip():
                raise StepSyntaxError("--say attend un texte non vide")
            steps.append(Say(value))
        elif option == "--wav":
            steps.append(Wav(Path(value)))
        elif option == "--dtmf":
            steps.extend(_digits(value))
        else:
            steps.append(Wait(_number(value, "--wait")))
    return steps


def steps_from_script(path: Path) -> list[Step]:
    """A YAML list such as `- say: "bonjour"`, `- wav: f.wav`, `- dtmf: "0"`, `- wait: 2`,
    `- wait_for_bot: 10`, `- hangup`. Relative WAV paths are read from the script's folder."""
    data = read_document(path, yaml.safe_load, yaml.YAMLError, StepSyntaxError,
                         unreadable="script illisible : {path} ({reason})",
                         invalid="script YAML invalide : {path} ({reason})")
    if isinstance(data, dict):
        data = data.get("steps")
    if not isinstance(data, list):
        raise StepSyntaxError(f"{path} : une liste d'étapes est attendue (ou une clé steps:)")
    steps: list[Step] = []
    for n, entry in enumerate(data, 1):
        if entry == "hangup":
            steps.append(Hangup())
            continue
        if not isinstance(entry, dict) or len(entry) != 1:
            raise StepSyntaxError(f"{path}, étape {n} : une seule clé attendue, par ex. `- say: bonjour`")
        ((kind, value),) = entry.items()
        if kind == "say" and isinstance(value, str) and value.strip():
            steps.append(Say(value))
        elif kind == "wav" and isinstance(value, str):
            wav = Path(value)
            steps.append(Wav(wav if wav.is_absolute() else Path(path).parent / wav))
        elif kind == "dtmf" and isinstance(value, str | int):
            steps.extend(_digits(str(value)))
        elif kind == "wait" and isinstance(value, int | float):
            steps.append(Wait(_number(str(value), "wait")))
        elif kind == "wait_for_bot":
            timeout = WaitForBot().timeout if value is None else _number(str(value), "wait_for_bot")
            steps.append(WaitForBot(timeout))
        elif kind == "hangup":
            steps.append(Hangup())
        else:
            raise StepSyntaxError(f"{path}, étape {n} : étape inconnue ou valeur invalide {entry!r}")
    return steps


def with_bot_waits(steps: list[Step], timeout: float) -> list[Step]:
    """Let the bot speak: once at the start (the greeting) and after each thing the caller says or keys."""
    out: list[Step] = []
    if not steps or not isinstance(steps[0], WaitForBot):
        out.append(WaitForBot(timeout))
    for i, step in enumerate(steps):
        out.append(step)
        next_step = steps[i + 1] if i + 1 < len(steps) else None
        if isinstance(next_step, WaitForBot):
            continue
        if isinstance(step, Say | Wav) or (isinstance(step, Dtmf) and not _continues_dtmf(steps, i)):
            out.append(WaitForBot(timeout))
    return out


def _continues_dtmf(steps: list[Step], i: int) -> bool:
    """steps[i] is a key followed by the short gap of the same --dtmf sequence and another key."""
    return (i + 2 < len(steps) and isinstance(steps[i + 1], Wait) and steps[i + 1].seconds == DTMF_GAP_SECS
            and isinstance(steps[i + 2], Dtmf))


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f} ms"


def describe(summary: CallSummary) -> str:
    """The summary in French, for a person at a terminal."""
    lines = [f"Appel {summary.call_sid}" + (f" (flux {summary.stream_sid})" if summary.stream_sid else "")]
    if summary.stream_sid:
        lines.append(f"Accueil : premier son du robot {_ms(summary.greeting_ms)} après le début du flux")
    for n, turn in enumerate(summary.turns, 1):
        what = {"say": "parole", "wav": "fichier", "dtmf": "touche"}[turn.kind]
        answer = ("pas de réponse" if turn.first_audio_ms is None
                  else f"réponse après {_ms(turn.first_audio_ms)}, {turn.bot_audio_ms / 1000:.1f} s de voix")
        note = " (le robot parlait encore)" if turn.bot_was_speaking else ""
        lines.append(f"Tour {n} ({what} « {turn.text} ») : {answer}{note}")
    if summary.stream_sid:
        lines.append(f"Voix du robot : {summary.bot_audio_seconds:.1f} s reçues, "
                     f"{summary.bot_audio_played_seconds:.1f} s jouées ; marques : "
                     f"{summary.marks_sent_by_server} envoyées, {summary.marks_echoed} renvoyées ; "
                     f"clear : {summary.clears}")
    o = summary.outcome
    verb = {"hangup": "raccrochage", "enqueue": "file d'attente", "dial": "transfert vers un numéro"}
    unexpected = f"verbe inattendu {o.get('target')!r}" if o.get("target") else "aucun"
    final = verb.get(o.get("verb") or "", unexpected)
    if o.get("verb") in ("enqueue", "dial"):
        final += f" « {o.get('target')} »"
    who = {"server": "le serveur", "caller": "l'appelant"}.get(summary.hung_up_by or "", "?")
    lines.append(f"Fin : {final} (flux terminé par {who})")
    if summary.close and summary.close.get("code") not in (1000, 1001, 1005, None):
        lines.append(f"Fermeture du flux : code {summary.close['code']} {summary.close.get('reason') or ''}")
    if summary.marks_pending_at_close:
        unplayed = summary.unplayed_at_close_ms / 1000
        lines.append(f"Attention : le serveur a fermé le flux avec {unplayed:.1f} s "
                     f"de voix encore en attente (jamais entendue ; {summary.marks_pending_at_close} "
                     "marque(s) non renvoyée(s))")
    if summary.timeouts:
        lines.append(f"Le robot n'a pas fini de parler à temps aux étapes {summary.timeouts}")
    if summary.violations:
        lines.append(f"Violations du protocole ({len(summary.violations)}) :")
        lines += [f"  - {v['code']} : {v['detail']}" for v in summary.violations[:20]]
    else:
        lines.append("Violations du protocole : aucune")
    if summary.reply_wav:
        lines.append(f"Voix du robot enregistrée dans {summary.reply_wav}")
    return "\n".join(lines)


def local_server_url() -> str:
    """The server `callbot serve` starts with the same environment (CALLBOT_HOST, CALLBOT_PORT)."""
    from callbot.config import get_settings

    settings = get_settings()
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
    return f"http://{host}:{settings.port}"


def simulate(
    ctx: typer.Context,
    url: str | None = typer.Option(None, "--url", help="base URL of the running server "
                                                       "(default: CALLBOT_HOST and CALLBOT_PORT's)"),
    caller: str = typer.Option("+33612345678", "--from", help="caller's number (From)"),
    called: str = typer.Option("+33100000000", "--to", help="called number (To)"),
    script: Path | None = typer.Option(None, "--script", help="YAML file of steps (instead of / before the "
                                                              "step options)"),
    out: Path | None = typer.Option(None, "--out", help="record what the bot said to this WAV file"),
    as_json: bool = typer.Option(False, "--json", help="print the summary as JSON"),
    auth_token: str | None = typer.Option(None, "--auth-token", envvar="CALLBOT_TWILIO_AUTH_TOKEN",
                                          help="sign requests like Twilio (X-Twilio-Signature)"),
    public_url: str | None = typer.Option(None, "--public-url",
                                          help="URL Twilio would use (signatures); default --url"),
    rewrite_host: bool = typer.Option(False, "--rewrite-host",
                                      help="reach the stream and action URLs of the TwiML at --url's host"),
    listen: float = typer.Option(15.0, "--listen", help="seconds to stay on the line after the last step"),
    bot_timeout: float = typer.Option(60.0, "--bot-timeout",
                                      help="longest wait for the bot to finish speaking"),
    strict: bool = typer.Option(False, "--strict", help="exit 3 when the server violated the protocol"),
) -> None:
    """Place a call like Twilio: webhook, media socket (20 ms mu-law frames), marks, DTMF, <Connect action>.

    Steps run in command-line order and can repeat:
    --say TEXT (spoken with the project's Piper voice), --wav FILE, --dtmf DIGITS, --wait SECONDS, --hangup.

    The caller waits for the greeting first, and for the bot's answer after each --say, --wav and --dtmf.
    """
    try:
        steps = steps_from_script(script) if script else []
        steps += steps_from_args(list(ctx.args))
    except StepSyntaxError as e:
        typer.echo(f"Erreur : {e}", err=True)
        raise typer.Exit(2) from None
    steps = with_bot_waits(steps, bot_timeout)
    from callbot.devtools.simulator.call import SimulationError, place_call

    url = url or local_server_url()
    try:
        summary = asyncio.run(place_call(
            url, steps, caller=caller, called=called, auth_token=auth_token or None,
            public_url=public_url, rewrite_stream_host=rewrite_host, listen_secs_after=listen, out=out))
    except SimulationError as e:
        typer.echo(f"Erreur : {e}", err=True)
        raise typer.Exit(1) from None
    typer.echo(summary.to_json() if as_json else describe(summary))
    if strict and summary.violations:
        raise typer.Exit(3)


CONTEXT_SETTINGS = {"allow_extra_args": True, "ignore_unknown_options": True,
                    "help_option_names": ["-h", "--help"]}


def register(app: typer.Typer) -> None:
    app.command("simulate", context_settings=CONTEXT_SETTINGS)(simulate)

