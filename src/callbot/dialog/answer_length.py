"""How long the bot speaks: words → seconds at the voice's speaking rate, and the flow texts a
caller would hear that are too long for a phone call (`callbot flows check` warns on them).

A phone answer over about 20 s loses the caller; longer content goes behind a yes/no follow-up
("Voulez-vous le détail ?"). The rate is `settings.speech.words_per_second` in the flows: set it
from the voice actually configured (`callbot flows test --timing` prints the rate it measured).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

from callbot.dialog.answers import sentences
from callbot.dialog.flows import Flows

# Words as a voice says them: "8 heures 30" is three, "Saint-Démo-sur-Loire" four, "l'acte" two.
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
# A voice pauses between sentences (Piper adds about 0.2 s of silence after each).
SENTENCE_PAUSE_SECS = 0.2


def word_count(text: str) -> int:
    return len(_WORD.findall(text))


def estimated_seconds(text: str, words_per_second: float) -> float:
    """How long a voice speaking `words_per_second` takes to say `text`."""
    count = max(1, len(sentences(text)))
    return word_count(text) / words_per_second + SENTENCE_PAUSE_SECS * (count - 1)


@dataclass(frozen=True)
class Spoken:
    """One thing the caller hears in one go: where it comes from, and its text."""

    where: str  # "intent horaires_mairie: answer", "prompts: greeting + disclosure + listening"
    text: str
    limit_secs: float


def spoken_texts(flows: Flows, render: Callable[[str, object], str]) -> Iterator[Spoken]:
    """Each reply the flows can make, rendered (`render(text, intent)`), with its time limit."""
    p = flows.prompts
    speech = flows.settings.speech
    greeting = " ".join([*(render(t, None) for t in p.greeting), render(p.disclosure, None),
                         render(p.listening, None)])
    yield Spoken("prompts: greeting + disclosure + listening", greeting, speech.greeting_max_seconds)
    after = render(p.anything_else, None)
    for intent in flows.intents:
        answers = {"answer": intent.answer} if intent.answer else {}
        for slot, values in intent.variants.items():
            answers.update({f"variants.{slot}.{value}": text for value, text in values.items()})
        for where, template in answers.items():
            fu = intent.follow_up
            closing = render(fu.question, intent) if fu else after
            yield Spoken(f"intent {intent.id}: {where}", f"{render(template, intent)} {closing}",
                         speech.answer_max_seconds)
        if intent.follow_up and intent.follow_up.if_yes:
            yield Spoken(f"intent {intent.id}: follow_up.if_yes",
                         f"{render(intent.follow_up.if_yes, intent)} {after}", speech.answer_max_seconds)
    for name in ("emergency", "nobody_on_duty", "callback_offer", "transfer", "goodbye"):
        yield Spoken(f"prompts: {name}", render(getattr(p, name), None), speech.answer_max_seconds)


def too_long(flows: Flows, render: Callable[[str, object], str],
             words_per_second: float | None = None) -> list[tuple[Spoken, float]]:
    """The replies over their limit at the given (or the flows') speaking rate, with their seconds."""
    rate = words_per_second or flows.settings.speech.words_per_second
    out = []
    for s in spoken_texts(flows, render):
        secs = estimated_seconds(s.text, rate)
        if secs > s.limit_secs:
            out.append((s, secs))
    return out


def flows_renderer(flows: Flows, now: datetime) -> Callable[[str, object], str]:
    """Renders flow texts as the bot would say them at `now` (live variables filled)."""
    from callbot.dialog.answers import Renderer
    from callbot.dialog.hours import Hours

    renderer = Renderer(flows, Hours(flows.commune))
    return lambda text, intent: renderer.render(text, now, intent)  # type: ignore[arg-type]
