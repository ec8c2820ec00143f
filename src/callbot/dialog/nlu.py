"""Understanding French callers: intent, topic, confidence, action, slots.

`Nlu.from_flows(flows)` trains the matcher on the intents' examples (the intent layer, whose
answers are validated) and loads the topic layer (topic_model.py, trained on the public-service
sheets; "flows-only" when they are missing, `mode` says which). An emergency in the caller's own
words and topic routing when no intent is confident are nlu_routing.py's; `understand()` reads one
utterance as a phone recogniser transcribed it and decides what the bot should do with it, by
named thresholds (`Thresholds`, overridable from the flows' `nlu_thresholds`). Every reply that
is not a plain answer carries a `fallback_reason` saying why, for the managers' review list.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, fields, replace
from datetime import date
from typing import Any

import numpy as np
from loguru import logger

from callbot.dialog.control import OUT_OF_SCOPE_TOPIC, YES_NO, ControlIntent
from callbot.dialog.emergency import emergency_reason
from callbot.dialog.nlu_background import BACKGROUND, EVERYDAY_TALK
from callbot.dialog.nlu_matcher import Matcher
from callbot.dialog.nlu_routing import (
    TopicThresholds,
    classifier_alarm,
    emergency_override,
    route_by_topic,
)
from callbot.dialog.normalize import normalize
from callbot.dialog.slots import SlotMatcher, extract_date, extract_digits, extract_time
from callbot.dialog.types import Action, Expect, Understanding

# Topics that are not town-hall business intents; the action says what the bot does instead.
TOPIC_ACTIONS = {ControlIntent.AGENT: Action.TRANSFER, OUT_OF_SCOPE_TOPIC: Action.OUT_OF_SCOPE,
                 ControlIntent.EMERGENCY: Action.EMERGENCY}
CONTROL_ACTIONS = {ControlIntent.REPEAT: Action.REPEAT, ControlIntent.GOODBYE: Action.GOODBYE}
# A phone turn is a few sentences; beyond this the rest is noise (and would only cost time).
MAX_CHARS = 400


@dataclass(frozen=True)
class Thresholds:
    """Decision thresholds on the calibrated confidence (0..1). Flows may override any of them."""

    answer: float = 0.70  # at or above: answer directly
    confirm: float = 0.15  # between confirm and answer: "vous voulez …, c'est bien ça ?" (out of domain is
    # caught before, by the background and the known words: asking back costs one turn)
    clarify_margin: float = 0.05  # raw similarities of the top two closer than this, both ≥ confirm: ask
    ood_guard: float = 0.12  # raw similarity below this: not about anything the flows know
    in_domain_min: float = 0.45  # IDF-weighted share of words the examples know; below: out of domain
    in_domain_mass: float = 1.6  # …unless the known words weigh this many intent-specific words
    answer_known_min: float = 0.75  # IDF-weighted share of known words needed to answer without asking
    emergency: float = 0.30  # an emergency is acted on at this lower confidence
    yes_no_boost: float = 1.35  # when a yes/no is expected, oui/non scores are multiplied by this
    background_margin: float = 0.0  # everyday-talk similarity above the flows' by more: out of domain
    snap_min: float = 80.0  # rapidfuzz ratio to snap a misheard word onto a known word

    @classmethod
    def from_overrides(cls, overrides: dict[str, float] | None) -> Thresholds:
        known = {f.name for f in fields(cls)}
        bad = set(overrides or {}) - known
        if bad:
            raise ValueError(f"seuils NLU inconnus : {', '.join(sorted(bad))} "
                             f"(connus : {', '.join(sorted(known))})")
        return replace(cls(), **(overrides or {}))


@dataclass(frozen=True)
class Calibration:
    """Maps raw similarity and its margin over the runner-up to a confidence in 0..1.

    A logistic of both: a close match that is also clearly ahead of the next intent is sure; a
    close match tied with another is not (that is the clarify case), nor is a faint one.
    """

    top_center: float = 0.30  # raw similarity that alone is a coin flip
    top_scale: float = 0.07
    margin_center: float = 0.08  # lead over the runner-up that alone is a coin flip
    margin_scale: float = 0.06

    def confidence(self, top: float, second: float) -> float:
        z = (top - self.top_center) / self.top_scale + (top - second - self.margin_center) / self.margin_scale
        return 1 / (1 + math.exp(-max(-30.0, min(30.0, z))))


@dataclass(frozen=True)
class IntentSpec:
    """What the NLU needs of an intent (flows' IntentDef has these attributes too)."""

    id: str
    topic: str | None
    examples: list[str]
    slots: tuple = ()


def describe(intent: Any) -> str:  # noqa: ANN401
    """What the flows say an intent is, besides its examples: its label and summary.

    (Answer texts were tried too: they name other services and lowered accuracy.)"""
    parts = [getattr(intent, "label", None), getattr(intent, "summary", None)]
    text = " ".join(p for p in parts if isinstance(p, str))
    return re.sub(r"\{[^}]*\}", " ", text)


def _verbatim(text: str) -> str:
    return " ".join(re.findall(r"[\w']+", text.casefold()))


class Nlu:
    def __init__(self, intents: Iterable[Any], slot_types: dict[str, dict[str, list[str]]] | None = None,
                 thresholds: Thresholds | dict[str, float] | None = None,
                 calibration: Calibration | None = None, topics: Any = None,  # noqa: ANN401
                 mode: str = "flows-only", emergency_model: Any = None) -> None:  # noqa: ANN401
        self.intents = [i for i in intents if i.examples]
        if not self.intents:
            raise ValueError("aucun intent avec des exemples : impossible d'entraîner la compréhension")
        self.thresholds = (thresholds if isinstance(thresholds, Thresholds)
                           else Thresholds.from_overrides(thresholds))
        self.calibration = calibration or Calibration()
        self.ids = [i.id for i in self.intents]
        self.topics = {i.id: i.topic for i in self.intents}
        self.slot_defs = {i.id: list(getattr(i, "slots", []) or []) for i in self.intents}
        examples = [(ex, n) for n, i in enumerate(self.intents) for ex in i.examples]
        self.matcher = Matcher(examples, len(self.intents), snap_min=self.thresholds.snap_min,
                               descriptions=[describe(i) for i in self.intents])
        # Everything the flows know (class 0) against everyday talk (class 1): out-of-domain check.
        self.background = Matcher([(ex, 0) for ex, _ in examples] + [(b, 1) for b in BACKGROUND], 2,
                                  snap_min=self.thresholds.snap_min)
        # A validated example said word for word belongs to its intent, even when normalising
        # makes it equal to another's ("oui bonjour" and "oui" both read "oui").
        self.verbatim: dict[str, int] = {}
        for ex, n in examples:
            self.verbatim.setdefault(_verbatim(ex), n)
        self.slot_matcher = SlotMatcher(slot_types or {})
        self._yes_no = np.array([i in YES_NO for i in self.ids])
        self._control = np.array([self.topics[i] is None for i in self.ids])
        self._emergency = np.array([i == ControlIntent.EMERGENCY.value for i in self.ids])
        self.topic_model = topics  # topic_model.TopicModel, or None: the flows alone
        self.emergency_model = emergency_model  # emergency_model.EmergencyModel, or None: patterns alone
        self.mode = mode
        self.topic_thresholds = TopicThresholds()

    @classmethod
    def from_flows(cls, flows: Any, *, topics: bool = True) -> Nlu:  # noqa: ANN401 - dialog.flows.Flows
        """With `topics`, the topic layer too (cached under var/nlu/, built when missing)."""
        model, mode, emergency = None, "flows-only: disabled", None
        if topics:
            from callbot.dialog import emergency_model
            from callbot.dialog.topic_model import load_or_build

            model, mode = load_or_build(flows.intents)
            if model is None:
                logger.warning("understanding runs on the flows only ({})", mode)
            emergency, why = emergency_model.load_or_build(flows.intents)
            if emergency is None:
                logger.warning("emergency classifier unavailable ({}): emergencies are heard by the "
                               "patterns alone", why)
        return cls(flows.intents, flows.slot_types, flows.nlu_thresholds, topics=model, mode=mode,
                   emergency_model=emergency)

    def understand(self, text: str, *, expect: str = Expect.SPEECH,
                   today: date | None = None) -> Understanding:
        u = self._understand(text, expect=expect, today=today)
        # The classifier is not asked when the intent layer answers surely ("ma carte d'identité est-
        # elle prête", "il y a de la musique très forte à côté"): on the emergency files that was 2
        # of 224 descriptions, both caught by the patterns; on the spoken set, 4 of 6 false alarms.
        if self._weak_emergency_intent(u) and emergency_reason(text) is None:
            # Only the flows' emergency examples heard it, unsurely ("Visiteur de prison" 0.39,
            # "Peut-on fumer en voiture ?" 0.35): a weak alarm, judged like the classifier's below
            # SURE_ALARM (nlu_routing.classifier_alarm) on the reading without that intent.
            weak = f"emergency intent {u.confidence:.2f} < answer {self.thresholds.answer:.2f}"
            other = self._understand(text, expect=expect, today=today, without_emergency=True)
            return self._after_alarms(other, expect, weak)
        return self._after_alarms(emergency_override(u), expect)

    def _weak_emergency_intent(self, u: Understanding) -> bool:
        return (u.action == Action.EMERGENCY and u.intent == ControlIntent.EMERGENCY.value
                and u.confidence < self.thresholds.answer)

    def _after_alarms(self, u: Understanding, expect: str, weak: str | None = None) -> Understanding:
        """`u` read by the learnt classifier (not asked when the intent layer answers surely, unless
        a weak alarm was already heard) and by the topic layer, then by classifier_alarm."""
        alarm, p = weak, (0.0 if weak else None)
        asked = self.emergency_model is not None and (
            weak is not None or u.action not in (Action.ANSWER, Action.EMERGENCY))
        if asked and (heard := self.emergency_model.alarm(u.text)) is not None:
            alarm, p = alarm or self.emergency_model.why(heard), heard
        if self.topic_model is not None and expect == Expect.SPEECH:
            u = route_by_topic(u, self.topic_model, set(self.ids), self.topic_thresholds)
        return classifier_alarm(u, alarm, p)

    # -- reading one utterance -------------------------------------------------------------
    def _understand(self, text: str, *, expect: str = Expect.SPEECH, today: date | None = None,
                    without_emergency: bool = False) -> Understanding:
        text = text if isinstance(text, str) else str(text)
        norm = normalize(text[:MAX_CHARS])
        if not norm:
            return Understanding(text, None, None, 0.0, Action.FALLBACK, norm, fallback_reason="empty")
        scores, feats = self.matcher.scores(norm)
        if (said := self.verbatim.get(_verbatim(text[:MAX_CHARS]))) is not None:
            scores[said] = max(float(scores[said]), 1.0)
        if without_emergency:
            scores = np.where(self._emergency, 0.0, scores)
        # With its own repair: snapped onto the flows' words alone, "la poste" would become "les pots".
        feats.background = float(np.subtract(*self.background.scores(norm)[0][::-1]))
        if expect == Expect.YES_NO:
            scores = np.where(self._yes_no, np.minimum(1.0, scores * self.thresholds.yes_no_boost), scores)
        u = self._read(text, norm, scores, feats, expect, today)
        if expect == Expect.SPEECH and self._control[int(np.argmax(scores))] and u.action not in (
                Action.CONTROL, Action.REPEAT, Action.GOODBYE):
            # An unsure "oui"/"merci" inside a longer request ("c'est où exactement la mairie") is
            # never acted on; the request's own subject is the better reading.
            masked = self._read(text, norm, np.where(self._control, 0.0, scores), feats, expect, today)
            if masked.intent is not None:
                return masked
        return u

    def _read(self, text: str, norm: str, scores: np.ndarray, feats: Any, expect: str,  # noqa: ANN401
              today: date | None) -> Understanding:
        order = np.argsort(-scores)
        ranked = [float(scores[i]) for i in order[:4]] + [0.0] * 4
        top = ranked[0]
        # Each candidate's confidence is judged against the next one down, so the runner-up of a
        # near tie also reads as plausible (that is what clarify needs).
        confs = [self.calibration.confidence(ranked[k], ranked[k + 1]) for k in range(min(3, len(order)))]
        confs = [min(confs[: k + 1]) for k in range(len(confs))]  # never above a better-ranked one
        alternatives = [{"intent": self.ids[i], "topic": self.topics[self.ids[i]],
                         "confidence": round(c, 4)} for i, c in zip(order[:3], confs, strict=False)]
        intent = self.ids[order[0]]
        u = Understanding(text, intent, self.topics[intent], confs[0], Action.ANSWER, norm, alternatives)
        u.slots = self._slots(norm, intent, today or date.today())
        # Topic-level backoff: two intents of one topic competing leave the topic itself sure, so the
        # bot asks which of them instead of giving up (and the topic is still reported).
        topic = self.topics[intent]
        others = [float(scores[i]) for i in order[1:8] if self.topics[self.ids[i]] != topic]
        topic_conf = self.calibration.confidence(top, others[0] if others else 0.0)
        self._decide(u, top, top - ranked[1], feats, expect, topic_conf)
        return u

    def _slots(self, norm: str, intent: str | None, today: date) -> dict[str, Any]:
        slots: dict[str, Any] = dict(self.slot_matcher.extract(norm))
        if (d := extract_date(norm, today)) is not None:
            slots["date"] = d
        if (t := extract_time(norm)) is not None:
            slots["time"] = t
        digits = extract_digits(norm)
        if digits and len(digits) >= 4:
            slots["digits"] = digits
        # Also under the intent's own slot names ("piece": type document → slots["piece"]).
        for sd in self.slot_defs.get(intent or "", []):
            if sd.type in slots and sd.name not in slots:
                slots[sd.name] = slots[sd.type]
        return slots

    def _decide(self, u: Understanding, raw_top: float, raw_margin: float, feats: Any,  # noqa: ANN401
                expect: str, topic_conf: float = 0.0) -> None:
        t = self.thresholds
        n_content = len(feats.words) + len(feats.unknown)
        if expect == Expect.DIGITS and "digits" in u.slots and not (
                u.topic in (ControlIntent.EMERGENCY, ControlIntent.AGENT) and u.confidence >= t.answer):
            u.intent, u.topic, u.action, u.confidence = None, None, Action.SLOT, 1.0
            return
        if u.topic == ControlIntent.EMERGENCY and u.confidence >= t.emergency:
            u.action = Action.EMERGENCY
            return
        if n_content and not feats.words:
            return self._fallback(u, "no in-domain words")
        if not n_content and raw_top <= 0:
            return self._fallback(u, "no in-domain words")
        top = f"top intent {u.intent}"
        if feats.background > t.background_margin and expect == Expect.SPEECH:
            return self._fallback(u, f"{top}: {EVERYDAY_TALK} than to the flows "
                                     f"(by {feats.background:.2f} > {t.background_margin:.2f})")
        if raw_top < t.ood_guard:
            return self._fallback(u, f"{top} similarity {raw_top:.2f} < ood guard {t.ood_guard:.2f}")
        yes_no_answer = expect == Expect.YES_NO and u.intent in YES_NO
        if feats.known_share < t.in_domain_min and feats.known_mass < t.in_domain_mass and not yes_no_answer:
            return self._fallback(u, f"only {feats.known_share:.0%} of the words known < in-domain min "
                                     f"{t.in_domain_min:.0%}")
        alt = u.alternatives[1] if len(u.alternatives) > 1 else None
        if u.confidence < t.confirm and u.topic is not None and topic_conf >= t.confirm and (
                alt and alt["topic"] == u.topic):
            u.action = Action.CLARIFY
            u.fallback_reason = (f"{top} {u.confidence:.2f} < confirm threshold {t.confirm:.2f} but topic "
                                 f"{u.topic} {topic_conf:.2f}: ambiguous with {alt['intent']}")
            return
        if u.confidence < t.confirm:
            return self._fallback(u, f"{top} {u.confidence:.2f} < confirm threshold {t.confirm:.2f}")
        if u.topic is None and u.confidence < t.answer:
            # "Vous voulez dire au revoir ?" makes no sense: an unsure control word is not understood.
            return self._fallback(u, f"{top} {u.confidence:.2f} < answer threshold {t.answer:.2f}")
        alt = u.alternatives[1] if len(u.alternatives) > 1 else None
        if (alt and alt["confidence"] >= t.confirm and raw_margin < t.clarify_margin
                and alt["topic"] is not None and u.topic is not None):
            u.action = Action.CLARIFY
            u.fallback_reason = (f"ambiguous: {u.intent} {u.confidence:.2f} vs "
                                 f"{alt['intent']} {alt['confidence']:.2f}")
            return
        if feats.known_share < t.answer_known_min and u.confidence >= t.answer:
            u.action = Action.CONFIRM
            u.fallback_reason = (f"{top} {u.confidence:.2f} but only {feats.known_share:.0%} of the words "
                                 f"known < {t.answer_known_min:.0%}")
            return
        if u.confidence < t.answer:
            u.action = Action.CONFIRM
            u.fallback_reason = f"top intent {u.intent} {u.confidence:.2f} < answer threshold {t.answer:.2f}"
            return
        u.action = TOPIC_ACTIONS.get(u.topic or "", CONTROL_ACTIONS.get(u.intent or "", Action.ANSWER))
        if u.topic is None and u.action == Action.ANSWER:
            u.action = Action.CONTROL

    @staticmethod
    def _fallback(u: Understanding, reason: str) -> None:
        u.intent, u.topic, u.action, u.fallback_reason = None, None, Action.FALLBACK, reason
