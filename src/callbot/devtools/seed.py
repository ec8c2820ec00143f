"""Synthetic call history for demos and benchmarks (`callbot seed`). Every row is `synthetic=True`.

The history looks like a town hall's: more calls on weekday mornings with a Monday-morning peak,
a topic mix dominated by identity papers, civil status and waste, roughly half the calls resolved
by the bot, transfers with their reasons, queue waits, callbacks and end-of-call satisfaction.
Intents, their topics and what callers say come from the loaded flows (the intents the bot really
has), and every call has ended before `end` (now): the history never shows a call from the future.
Rows are written in bulk: COPY on PostgreSQL, executemany on SQLite.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, func, select, text

from callbot.store.models import Call, Callback, Turn
from callbot.vocabulary import CallbackStatus, Outcome, TransferReason, local_tz

# topic id (flows/topics.yaml) → (share of the calls, service label the dashboard filters on).
# Topics the flows have no intent for are left out.
TOPIC_MIX: dict[str, tuple[float, str | None]] = {
    "identite": (16, "État civil"), "etat_civil": (12, "État civil"), "horaires_contact": (14, "Accueil"),
    "dechets_proprete": (10, "Services techniques"), "urbanisme": (7, "Urbanisme"),
    "ecole_enfance": (7, "Scolaire"), "voirie_signalement": (5, "Services techniques"),
    "elections": (3, "État civil"), "mariage_pacs": (3, "État civil"), "deces_funeraire": (2, "État civil"),
    "recensement_citoyen": (2, "Accueil"), "social_solidarite": (4, "CCAS"),
    "animaux": (1, "Police municipale"),
    "vie_associative_salles": (3, "Vie associative"), "police_tranquillite": (3, "Police municipale"),
    "fiscalite_locale": (2, "Accueil"), "hors_mairie": (3, None), "parler_agent": (6, "Accueil"),
    "urgence": (0.5, None),
}
# What a small phone recogniser mishears: the manager's list of unrecognised utterances.
MUMBLES = [
    "euh c'est pour le truc de la",
    "c'est pour le truc de la",  # near-duplicates: the dashboard groups them by similarity
    "allô oui bonjour c'est pour savoir",
    "c'est pour le papier là",
    "c'est pour un papier là",
    "je sais pas trop",
    "euh je sais pas trop",
    "le machin pour la maison",
    "c'est pour mon dossier",
    "euh oui c'est pour le dossier de mon père",
    "bonjour c'est au sujet de",
]
BOT_ANSWER = "Voici la réponse à votre question. Puis-je vous aider pour autre chose ?"
BOT_SORRY = "Excusez-moi, je n'ai pas bien compris. Pouvez-vous reformuler ?"
BOT_TRANSFER = "Je vous passe un agent, merci de patienter."
WEEKDAY_WEIGHT = (1.5, 1.15, 1.0, 1.05, 0.95, 0.25, 0.05)  # Monday first
# Hour of the day, 0 h first.
HOUR_WEIGHT = (0, 0, 0, 0, 0, 0, 0.05, 0.3, 1.6, 2.0, 1.9, 1.6,
               0.8, 0.7, 1.3, 1.4, 1.2, 0.8, 0.3, 0.15, 0.08, 0.04, 0.02, 0.01)
CALL_COLUMNS = ("id", "call_sid", "caller_hash", "caller_masked", "called_number", "started_at", "ended_at",
                "outcome", "topic", "intent", "service", "summary", "transfer_kind", "transfer_target",
                "transfer_reason", "queued_at", "picked_up_at", "picked_up_by", "queue_result",
                "satisfaction", "synthetic")
TURN_COLUMNS = ("id", "call_id", "seq", "speaker", "text", "at", "intent", "topic", "confidence", "action",
                "fallback_reason", "response_ms", "asr_ms", "via_dtmf")
CALLBACK_COLUMNS = ("id", "call_id", "created_at", "number", "reason", "topic", "status", "synthetic")
# How seeded callback requests stand: most called back, some still to do.
CALLBACK_STATUS_WEIGHTS = {CallbackStatus.TODO: 3, CallbackStatus.DONE: 6, CallbackStatus.UNREACHABLE: 1,
                           CallbackStatus.CLOSED: 1}
_STATUSES = [s.value for s in CALLBACK_STATUS_WEIGHTS]
_STATUS_WEIGHTS = list(CALLBACK_STATUS_WEIGHTS.values())
# The longest a seeded call's turns run after its start (6 s greeting, up to 6 turns of 4-10 s).
TURNS_SPAN = timedelta(seconds=70)
LOCAL_TZ = local_tz()


@dataclass(frozen=True)
class TopicIntents:
    """One topic of the mix: its weight, the service label calls carry, and the flows' intents
    of that topic with what callers say for each (the intent's examples)."""

    topic: str
    weight: float
    service: str | None
    intents: tuple[tuple[str, tuple[str, ...]], ...]


def catalogue(flows_dir: Path | None = None) -> list[TopicIntents]:
    """The topic mix restricted to the intents the loaded flows really have (default: CALLBOT_FLOWS)."""
    from callbot.config import get_settings
    from callbot.dialog.flows import load_flows

    flows = load_flows(flows_dir or get_settings().flows)
    by_topic: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
    for intent in flows.intents:
        if intent.topic in TOPIC_MIX:
            by_topic.setdefault(intent.topic, []).append((intent.id, tuple(intent.examples)))
    mix = [TopicIntents(topic, *TOPIC_MIX[topic], tuple(intents)) for topic, intents in by_topic.items()]
    if not mix:
        raise ValueError("les flows ne déclarent aucune intention rattachée à un thème")
    return mix


@dataclass
class SeedResult:
    calls: int
    turns: int
    callbacks: int
    seconds: float
    rollup_seconds: float = 0.0  # building the daily summaries of the seeded past days


def _slots(rng: random.Random, days: int, end: datetime, n: int) -> list[datetime]:
    """n call start times (UTC) over the `days` local days ending with `end`'s day, all before `end`."""
    end = end.astimezone(UTC)
    last = end.astimezone(LOCAL_TZ).replace(hour=0, minute=0, second=0, microsecond=0)
    starts, weights = [], []
    for d in range(days):
        day = last - timedelta(days=days - 1 - d)
        for h in range(24):
            w = WEEKDAY_WEIGHT[day.weekday()] * HOUR_WEIGHT[h]
            if day.weekday() == 0 and 8 <= h <= 11:
                w *= 1.4  # Monday-morning rush after the weekend
            # Through UTC, so a DST night neither drops nor doubles an hour.
            start = (day + timedelta(hours=h)).astimezone(UTC)
            if w and start < end:
                starts.append(start)
                weights.append(w)
    if not starts:
        raise ValueError(f"aucune heure d'appel avant {end:%d/%m/%Y %H:%M} UTC sur {days} jour(s) : "
                         "augmentez --days")
    chosen = rng.choices(starts, weights=weights, k=n)
    # The hour that is still running only gets calls up to now.
    return sorted(s + timedelta(seconds=rng.random() * min(3600.0, (end - s).total_seconds()))
                  for s in chosen)


def _outcome(rng: random.Random, topic: str) -> tuple[Outcome, TransferReason | None, int]:
    """(outcome, transfer reason, misheard attempts before the request) of one call about `topic`."""
    r = rng.random()
    if topic == "urgence":
        return Outcome.TRANSFERRED, TransferReason.EMERGENCY, 0
    if topic == "parler_agent":
        if r < 0.8:
            return Outcome.TRANSFERRED, TransferReason.ASKED_AGENT, 0
        return Outcome.CALLBACK, None, 0
    if r < 0.56:
        return Outcome.RESOLVED, None, 1 if rng.random() < 0.15 else 0
    if r < 0.80:
        reason = rng.choices((TransferReason.ASKED_AGENT, TransferReason.MISUNDERSTANDING,
                              TransferReason.NO_INPUT, TransferReason.OUT_OF_SCOPE, TransferReason.TOPIC),
                             (30, 25, 8, 7, 30))[0]
        return Outcome.TRANSFERRED, reason, 2 if reason == TransferReason.MISUNDERSTANDING else 0
    if r < 0.87:
        return Outcome.CALLBACK, None, 0
    return (Outcome.ENDED_NO_AGENT, None, 0) if r < 0.90 else (Outcome.ABANDONED, None, 0)


def generate(
    n: int, days: int, seed: int, first_id: int, first_turn: int, first_callback: int, end: datetime,
    mix: list[TopicIntents] | None = None,
) -> Iterator[tuple[str, tuple]]:
    """Rows as ("calls"|"turns"|"callbacks", values in *_COLUMNS order), every one before `end`."""
    rng = random.Random(seed)
    mix = mix or catalogue()
    topic_w = [t.weight for t in mix]
    callers = [f"{rng.getrandbits(128):032x}" for _ in range(max(10, n // 3))]
    turn_id, cb_id = first_turn, first_callback
    end = end.astimezone(UTC)
    for i, started in enumerate(_slots(rng, days, end, n)):
        cid = first_id + i
        entry = rng.choices(mix, topic_w)[0]
        topic, service = entry.topic, entry.service
        intent, wordings = rng.choice(entry.intents)
        outcome, reason, mumbles = _outcome(rng, topic)
        bot_secs = max(15.0, rng.lognormvariate(4.2, 0.5))
        queued = picked = None
        queue_result = picked_by = kind = target = None
        ended = started + timedelta(seconds=bot_secs)
        if outcome == Outcome.TRANSFERRED:
            kind = "dial" if reason == TransferReason.EMERGENCY else "queue"
            target = "112" if reason == TransferReason.EMERGENCY else (service or "Accueil")
            if kind == "queue":
                queued = ended
                wait = rng.expovariate(1 / 70)
                if rng.random() < 0.13:
                    queue_result = "hangup"
                    ended = queued + timedelta(seconds=wait)
                else:
                    queue_result = "bridged"
                    picked = queued + timedelta(seconds=wait)
                    picked_by = rng.choice(("agent.martin", "agent.durand", "agent.leroy"))
                    ended = picked + timedelta(seconds=rng.lognormvariate(5.0, 0.6))
        # A call started a moment ago has not ended yet: move it back so that it ends before now.
        late = max(ended, started + TURNS_SPAN) - (end - timedelta(seconds=1))
        if late > timedelta(0):
            started, ended = started - late, ended - late
            queued, picked = (None if t is None else t - late for t in (queued, picked))
        sat = None
        if outcome == Outcome.RESOLVED and rng.random() < 0.35:
            sat = rng.choices((1, 2, 3, 4, 5), (4, 6, 15, 35, 40))[0]
        caller = rng.choice(callers)
        yield "calls", (
            cid, f"SYN{seed}-{cid}", caller, f"06 ** ** ** {int(caller[:4], 16) % 100:02d}", "+33100000000",
            started, ended, outcome.value, topic, intent, service, f"Appel synthétique : {topic}", kind,
            target, reason and reason.value, queued, picked, picked_by, queue_result, sat, True,
        )
        # Turns: greeting, optional misheard attempts, the real request, the bot's answer.
        at = started + timedelta(seconds=6)
        seq = 0

        def turn(speaker: str, text_: str, cid: int = cid, **kw: object) -> tuple:
            nonlocal seq, turn_id, at
            row = (turn_id, cid, seq, speaker, text_, at, kw.get("intent"), kw.get("topic"),
                   kw.get("confidence"), kw.get("action"), kw.get("fallback_reason"), kw.get("response_ms"),
                   kw.get("asr_ms"), False)
            seq += 1
            turn_id += 1
            at += timedelta(seconds=4 + rng.random() * 6)
            return row

        for _ in range(mumbles):
            conf = round(rng.uniform(0.15, 0.5), 2)
            action = rng.choices(("fallback", "clarify", "confirm"), (6, 2, 2))[0]
            yield "turns", turn(
                "caller", rng.choice(MUMBLES), intent=intent if action == "confirm" else None, topic=None,
                confidence=conf, action=action,
                fallback_reason=f"meilleure intention {conf:.2f} < seuil 0.55",
                response_ms=round(rng.gauss(750, 180), 1), asr_ms=round(rng.gauss(120, 30), 1))
            yield "turns", turn("bot", BOT_SORRY)
        if outcome == Outcome.ABANDONED and rng.random() < 0.5:
            continue
        conf = round(rng.uniform(0.6, 0.99), 2)
        action = {Outcome.TRANSFERRED: "transfer", Outcome.CALLBACK: "callback"}.get(outcome, "answer")
        if topic == "hors_mairie" and action == "answer":
            # Told who handles it, as the bot records it (the dashboard's "oriented" calls): by the
            # topic layer or the intent layer, alternately (no draw, so the random stream is unchanged).
            action = "orient" if cid % 2 else "out_of_scope"
        yield "turns", turn(
            "caller", rng.choice(wordings), intent=intent, topic=topic, confidence=conf, action=action,
            response_ms=round(max(200.0, rng.gauss(700, 160)), 1), asr_ms=round(rng.gauss(110, 25), 1))
        yield "turns", turn("bot", BOT_TRANSFER if outcome == Outcome.TRANSFERRED else BOT_ANSWER)
        if outcome == Outcome.CALLBACK:
            status = rng.choices(_STATUSES, _STATUS_WEIGHTS)[0]
            yield "callbacks", (cb_id, cid, ended, f"+3363998{rng.randrange(10000):04d}",
                                f"Rappel synthétique : {topic}", topic, status, True)
            cb_id += 1


def _next_ids(conn) -> tuple[int, int, int]:  # noqa: ANN001
    return tuple(
        int(conn.execute(select(func.coalesce(func.max(m.id), 0))).scalar()) + 1
        for m in (Call, Turn, Callback)
    )


def seed(
    engine: Engine,
    calls: int,
    days: int = 365,
    seed: int = 1,
    end: datetime | None = None,
    batch: int = 50_000,
    flows_dir: Path | None = None,
) -> SeedResult:
    """Insert `calls` synthetic calls (with turns and callbacks) ended before `end` (default: now),
    about the intents of the flows in `flows_dir` (default: CALLBOT_FLOWS)."""
    import time as _time

    if calls < 0 or days < 1:
        raise ValueError("calls >= 0 et days >= 1")
    t0 = _time.perf_counter()
    end = end or datetime.now(UTC)
    mix = catalogue(flows_dir)
    counts = {"calls": 0, "turns": 0, "callbacks": 0}
    with engine.begin() as conn:
        ids = _next_ids(conn)
        rows = generate(calls, days, seed, *ids, end=end, mix=mix)
        if engine.dialect.name == "postgresql":
            _copy_postgres(conn, rows, counts, batch)
            for table in ("calls", "turns", "callbacks"):
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                  f"(SELECT coalesce(max(id), 1) FROM {table}))"))
            conn.execute(text("ANALYZE calls; ANALYZE turns; ANALYZE callbacks"))
        else:
            _executemany(conn, rows, counts, batch)
            conn.execute(text("ANALYZE"))
    seconds = _time.perf_counter() - t0
    # The inserts marked the seeded days stale (triggers): summarise them now, not on the first page.
    from callbot.analytics import rollups

    t1 = _time.perf_counter()
    rollups.refresh(engine, end.astimezone(LOCAL_TZ).date())
    return SeedResult(counts["calls"], counts["turns"], counts["callbacks"], seconds,
                      _time.perf_counter() - t1)


TABLE_COLUMNS = {"calls": CALL_COLUMNS, "turns": TURN_COLUMNS, "callbacks": CALLBACK_COLUMNS}


def _executemany(conn, rows: Iterator[tuple[str, tuple]], counts: dict, batch: int) -> None:  # noqa: ANN001
    raw = conn.connection.driver_connection  # sqlite3: stores datetimes as SQLAlchemy does (UTC text)
    sql = {
        t: f"INSERT INTO {t} ({', '.join(c)}) VALUES ({', '.join('?' * len(c))})"
        for t, c in TABLE_COLUMNS.items()
    }
    buffers: dict[str, list] = {t: [] for t in TABLE_COLUMNS}

    def flush() -> None:
        for table in ("calls", "turns", "callbacks"):  # parents first: turns reference calls
            raw.executemany(sql[table], buffers[table])
            counts[table] += len(buffers[table])
            buffers[table].clear()

    for table, row in rows:
        buffers[table].append(tuple(_sqlite_value(v) for v in row))
        if len(buffers["calls"]) >= batch:
            flush()
    flush()


def _sqlite_value(v: object) -> object:
    if isinstance(v, datetime):
        return v.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return v


def _copy_postgres(conn, rows: Iterator[tuple[str, tuple]], counts: dict, batch: int) -> None:  # noqa: ANN001
    """COPY, one buffer of rows per table, flushed calls first (turns reference them). psycopg
    formats the rows (in C with psycopg[binary]): three times faster than formatting text here."""
    raw = conn.connection.driver_connection
    buffers: dict[str, list] = {t: [] for t in TABLE_COLUMNS}

    def flush() -> None:
        with raw.cursor() as cur:
            for table in ("calls", "turns", "callbacks"):
                if not buffers[table]:
                    continue
                cols = ", ".join(TABLE_COLUMNS[table])
                with cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                    for row in buffers[table]:
                        copy.write_row(row)
                counts[table] += len(buffers[table])
                buffers[table].clear()

    for table, row in rows:
        buffers[table].append(row)
        if len(buffers["calls"]) >= batch:
            flush()
    flush()
