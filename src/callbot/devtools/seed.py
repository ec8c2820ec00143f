"""Synthetic call history for demos and benchmarks (`callbot seed`). Every row is `synthetic=True`.

The history looks like a town hall's: more calls on weekday mornings with a Monday-morning peak,
a topic mix dominated by identity papers, civil status and waste, roughly half the calls resolved
by the bot, transfers with their reasons, queue waits, callbacks and end-of-call satisfaction.
Rows are written in bulk: COPY on PostgreSQL, executemany on SQLite.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, func, select, text

from callbot.analytics.periods import LOCAL_TZ
from callbot.store.models import Call, Callback, Turn

# topic → (weight, service, [(intent, [caller wordings])])
TOPICS: dict[str, tuple[float, str, list[tuple[str, list[str]]]]] = {
    "identite": (
        16,
        "État civil",
        [
            (
                "identite.rendez_vous",
                [
                    "je voudrais un rendez-vous pour une carte d'identité",
                    "c'est pour refaire mon passeport",
                    "prendre rendez-vous passeport",
                ],
            ),
            ("identite.perte", ["j'ai perdu ma carte d'identité", "on m'a volé mon passeport"]),
        ],
    ),
    "etat_civil": (
        12,
        "État civil",
        [
            (
                "etat_civil.acte_naissance",
                ["il me faut un acte de naissance", "une copie d'acte de naissance"],
            ),
            ("etat_civil.livret_famille", ["j'ai perdu mon livret de famille"]),
        ],
    ),
    "horaires_contact": (
        14,
        "Accueil",
        [
            (
                "horaires_contact.horaires",
                [
                    "quels sont les horaires de la mairie",
                    "vous êtes ouverts samedi",
                    "à quelle heure vous fermez",
                ],
            ),
            ("horaires_contact.adresse", ["c'est où la mairie", "quelle est l'adresse de la mairie"]),
        ],
    ),
    "dechets_proprete": (
        10,
        "Services techniques",
        [
            (
                "dechets_proprete.encombrants",
                ["c'est quand le ramassage des encombrants", "je voudrais faire enlever un canapé"],
            ),
            ("dechets_proprete.collecte", ["ma poubelle n'a pas été ramassée", "quel jour passe le camion"]),
        ],
    ),
    "urbanisme": (
        7,
        "Urbanisme",
        [
            (
                "urbanisme.permis",
                ["je voudrais déposer un permis de construire", "pour une déclaration préalable"],
            ),
            (
                "urbanisme.cloture",
                ["j'ai le droit de faire une clôture", "pour construire un abri de jardin"],
            ),
        ],
    ),
    "ecole_enfance": (
        7,
        "Scolaire",
        [
            (
                "ecole_enfance.inscription",
                ["inscrire mon fils à l'école", "c'est pour la cantine de ma fille"],
            ),
        ],
    ),
    "voirie_signalement": (
        5,
        "Services techniques",
        [
            (
                "voirie_signalement.eclairage",
                ["le lampadaire de ma rue ne marche plus", "il y a un nid de poule"],
            ),
        ],
    ),
    "elections": (
        3,
        "État civil",
        [
            (
                "elections.inscription",
                ["je voudrais m'inscrire sur les listes électorales", "faire une procuration"],
            ),
        ],
    ),
    "mariage_pacs": (3, "État civil", [("mariage_pacs.pacs", ["on voudrait se pacser", "pour un mariage"])]),
    "deces_funeraire": (
        2,
        "État civil",
        [("deces_funeraire.concession", ["pour une concession au cimetière"])],
    ),
    "recensement_citoyen": (
        2,
        "Accueil",
        [("recensement_citoyen.attestation", ["le recensement de mon fils"])],
    ),
    "social_solidarite": (
        4,
        "CCAS",
        [("social_solidarite.logement", ["une demande de logement social", "je voudrais parler au CCAS"])],
    ),
    "animaux": (1, "Police municipale", [("animaux.errant", ["il y a un chien perdu devant chez moi"])]),
    "vie_associative_salles": (
        3,
        "Vie associative",
        [("vie_associative_salles.location", ["louer la salle des fêtes"])],
    ),
    "police_tranquillite": (
        3,
        "Police municipale",
        [
            (
                "police_tranquillite.bruit",
                ["mes voisins font du bruit toute la nuit", "j'ai perdu mes clés objets trouvés"],
            )
        ],
    ),
    "fiscalite_locale": (
        2,
        "Accueil",
        [("fiscalite_locale.taxe_fonciere", ["une question sur la taxe foncière"])],
    ),
    "hors_mairie": (
        3,
        None,
        [("hors_mairie.carte_grise", ["c'est pour ma carte grise", "pour mes impôts sur le revenu"])],
    ),
    "parler_agent": (
        6,
        "Accueil",
        [("parler_agent.demande", ["je voudrais parler à quelqu'un", "passez-moi un conseiller"])],
    ),
    "urgence": (0.5, None, [("urgence.secours", ["il y a un accident", "au secours il y a le feu"])]),
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
HOUR_WEIGHT = (
    0,
    0,
    0,
    0,
    0,
    0,
    0.05,
    0.3,
    1.6,
    2.0,
    1.9,
    1.6,
    0.8,
    0.7,
    1.3,
    1.4,
    1.2,
    0.8,
    0.3,
    0.15,
    0.08,
    0.04,
    0.02,
    0.01,
)
CALL_COLUMNS = (
    "id",
    "call_sid",
    "caller_hash",
    "caller_masked",
    "called_number",
    "started_at",
    "ended_at",
    "outcome",
    "topic",
    "intent",
    "service",
    "summary",
    "transfer_kind",
    "transfer_target",
    "transfer_reason",
    "queued_at",
    "picked_up_at",
    "picked_up_by",
    "queue_result",
    "satisfaction",
    "synthetic",
)
TURN_COLUMNS = (
    "id",
    "call_id",
    "seq",
    "speaker",
    "text",
    "at",
    "intent",
    "topic",
    "confidence",
    "action",
    "fallback_reason",
    "response_ms",
    "asr_ms",
    "via_dtmf",
)
CALLBACK_COLUMNS = ("id", "call_id", "created_at", "number", "reason", "topic", "status", "synthetic")


@dataclass
class SeedResult:
    calls: int
    turns: int
    callbacks: int
    seconds: float
    rollup_seconds: float = 0.0  # building the daily summaries of the seeded past days


def _slots(rng: random.Random, days: int, end: datetime, n: int) -> list[datetime]:
    """n call start times (UTC) over the `days` Paris days ending with `end`'s day."""
    last = end.astimezone(LOCAL_TZ).replace(hour=0, minute=0, second=0, microsecond=0)
    starts, weights = [], []
    for d in range(days):
        day = last - timedelta(days=days - 1 - d)
        for h in range(24):
            w = WEEKDAY_WEIGHT[day.weekday()] * HOUR_WEIGHT[h]
            if day.weekday() == 0 and 8 <= h <= 11:
                w *= 1.4  # Monday-morning rush after the weekend
            if w:
                # Through UTC, so a DST night neither drops nor doubles an hour.
                starts.append((day + timedelta(hours=h)).astimezone(UTC))
                weights.append(w)
    chosen = rng.choices(starts, weights=weights, k=n)
    return sorted(s + timedelta(seconds=rng.random() * 3600) for s in chosen)


def generate(
    n: int, days: int, seed: int, first_id: int, first_turn: int, first_callback: int, end: datetime
) -> Iterator[tuple[str, tuple]]:
    """Rows as ("calls"|"turns"|"callbacks", values in *_COLUMNS order)."""
    rng = random.Random(seed)
    topics = list(TOPICS)
    topic_w = [TOPICS[t][0] for t in topics]
    callers = [f"{rng.getrandbits(128):032x}" for _ in range(max(10, n // 3))]
    turn_id, cb_id = first_turn, first_callback
    for i, started in enumerate(_slots(rng, days, end, n)):
        cid = first_id + i
        topic = rng.choices(topics, topic_w)[0]
        _, service, intents = TOPICS[topic]
        intent, wordings = rng.choice(intents)
        r = rng.random()
        reason = None
        mumbles = 0
        if topic == "urgence":
            outcome, reason = "transferred", "emergency"
        elif topic == "parler_agent":
            outcome, reason = ("transferred", "asked_agent") if r < 0.8 else ("callback", None)
        elif r < 0.56:
            outcome = "resolved"
            mumbles = 1 if rng.random() < 0.15 else 0
        elif r < 0.80:
            outcome = "transferred"
            reason = rng.choices(
                ("asked_agent", "misunderstanding", "no_input", "out_of_scope", "topic"), (30, 25, 8, 7, 30)
            )[0]
            mumbles = 2 if reason == "misunderstanding" else 0
        elif r < 0.87:
            outcome = "callback"
        elif r < 0.90:
            outcome = "ended_no_agent"
        else:
            outcome = "abandoned"
        bot_secs = max(15.0, rng.lognormvariate(4.2, 0.5))
        queued = picked = None
        queue_result = picked_by = kind = target = None
        ended = started + timedelta(seconds=bot_secs)
        if outcome == "transferred":
            kind = "dial" if reason == "emergency" else "queue"
            target = "112" if reason == "emergency" else (service or "Accueil")
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
        sat = None
        if outcome == "resolved" and rng.random() < 0.35:
            sat = rng.choices((1, 2, 3, 4, 5), (4, 6, 15, 35, 40))[0]
        caller = rng.choice(callers)
        yield (
            "calls",
            (
                cid,
                f"SYN{seed}-{cid}",
                caller,
                f"06 ** ** ** {int(caller[:4], 16) % 100:02d}",
                "+33100000000",
                started,
                ended,
                outcome,
                topic,
                intent,
                service,
                f"Appel synthétique : {topic}",
                kind,
                target,
                reason,
                queued,
                picked,
                picked_by,
                queue_result,
                sat,
                True,
            ),
        )
        # Turns: greeting, optional misheard attempts, the real request, the bot's answer.
        at = started + timedelta(seconds=6)
        seq = 0

        def turn(speaker: str, text_: str, cid: int = cid, **kw: object) -> tuple:
            nonlocal seq, turn_id, at
            row = (
                turn_id,
                cid,
                seq,
                speaker,
                text_,
                at,
                kw.get("intent"),
                kw.get("topic"),
                kw.get("confidence"),
                kw.get("action"),
                kw.get("fallback_reason"),
                kw.get("response_ms"),
                kw.get("asr_ms"),
                False,
            )
            seq += 1
            turn_id += 1
            at += timedelta(seconds=4 + rng.random() * 6)
            return row

        for _ in range(mumbles):
            conf = round(rng.uniform(0.15, 0.5), 2)
            action = rng.choices(("fallback", "clarify", "confirm"), (6, 2, 2))[0]
            yield (
                "turns",
                turn(
                    "caller",
                    rng.choice(MUMBLES),
                    intent=intent if action == "confirm" else None,
                    topic=None,
                    confidence=conf,
                    action=action,
                    fallback_reason=f"meilleure intention {conf:.2f} < seuil 0.55",
                    response_ms=round(rng.gauss(750, 180), 1),
                    asr_ms=round(rng.gauss(120, 30), 1),
                ),
            )
            yield "turns", turn("bot", BOT_SORRY)
        if outcome == "abandoned" and rng.random() < 0.5:
            continue
        conf = round(rng.uniform(0.6, 0.99), 2)
        action = {"transferred": "transfer", "callback": "callback"}.get(outcome, "answer")
        yield (
            "turns",
            turn(
                "caller",
                rng.choice(wordings),
                intent=intent,
                topic=topic,
                confidence=conf,
                action=action,
                response_ms=round(max(200.0, rng.gauss(700, 160)), 1),
                asr_ms=round(rng.gauss(110, 25), 1),
            ),
        )
        yield "turns", turn("bot", BOT_TRANSFER if outcome == "transferred" else BOT_ANSWER)
        if outcome == "callback":
            yield (
                "callbacks",
                (
                    cb_id,
                    cid,
                    ended,
                    f"+3363998{rng.randrange(10000):04d}",
                    f"Rappel synthétique : {topic}",
                    topic,
                    rng.choices(("a_rappeler", "rappele", "injoignable", "clos"), (3, 6, 1, 1))[0],
                    True,
                ),
            )
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
) -> SeedResult:
    """Insert `calls` synthetic calls (with turns and callbacks) ending at `end` (default: now)."""
    import time as _time

    if calls < 0 or days < 1:
        raise ValueError("calls >= 0 et days >= 1")
    t0 = _time.perf_counter()
    end = end or datetime.now(UTC)
    counts = {"calls": 0, "turns": 0, "callbacks": 0}
    with engine.begin() as conn:
        ids = _next_ids(conn)
        rows = generate(calls, days, seed, *ids, end=end)
        if engine.dialect.name == "postgresql":
            _copy_postgres(conn, rows, counts, batch)
            for table in ("calls", "turns", "callbacks"):
                conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT coalesce(max(id), 1) FROM {table}))"
                    )
                )
            conn.execute(text("ANALYZE calls; ANALYZE turns; ANALYZE callbacks"))
        else:
            _executemany(conn, rows, counts, batch)
            conn.execute(text("ANALYZE"))
    seconds = _time.perf_counter() - t0
    # The inserts marked the seeded days stale (triggers): summarise them now, not on the first page.
    from callbot.analytics import rollups

    t1 = _time.perf_counter()
    rollups.refresh(engine, end.astimezone(LOCAL_TZ).date())
    return SeedResult(
        counts["calls"], counts["turns"], counts["callbacks"], seconds, _time.perf_counter() - t1
    )


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
