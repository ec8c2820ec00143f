"""A deliberately simple understanding used only when `callbot.dialog.nlu` is not installed.

The real NLU (`callbot.dialog.nlu.Nlu`) is owned elsewhere; this stand-in keeps the dialog usable
(and its tests meaningful) while that module is absent. It matches the flow examples with a fuzzy
token score and reads slot values from the flows' synonyms. Same interface as the real one.
"""

from __future__ import annotations

import re
import unicodedata

from rapidfuzz import fuzz, process

from callbot.dialog.types import Understanding

DEFAULTS = {"answer": 0.80, "confirm": 0.62, "ambiguity": 0.04}


def simplify(text: str) -> str:
    text = unicodedata.normalize("NFD", text.lower())
    text = "".join(c for c in text if unicodedata.category(c) != "Mn")
    text = re.sub(r"[^a-z0-9]+", " ", text.replace("'", " "))
    return " ".join(text.split())


class BasicMatcher:
    def __init__(self, flows) -> None:  # noqa: ANN001
        self.thresholds = {**DEFAULTS, **(flows.nlu_thresholds or {})}
        self.topics = {i.id: i.topic for i in flows.intents}
        self.choices: list[str] = []
        self.labels: list[str] = []
        for intent in flows.intents:
            for ex in intent.examples:
                self.choices.append(simplify(ex))
                self.labels.append(intent.id)
        self.synonyms = [(stype, value, simplify(s)) for stype, values in flows.slot_types.items()
                         for value, syns in values.items() for s in [value, *syns] if simplify(s)]

    @classmethod
    def from_flows(cls, flows) -> BasicMatcher:  # noqa: ANN001
        return cls(flows)

    def slots(self, norm: str) -> dict[str, str]:
        out: dict[str, str] = {}
        padded = f" {norm} "
        for stype, value, syn in sorted(self.synonyms, key=lambda s: -len(s[2])):
            if stype not in out and f" {syn} " in padded:
                out[stype] = value
        return out

    def understand(self, text: str, expect: str = "speech") -> Understanding:
        norm = simplify(text)
        if not norm:
            return Understanding(text, None, None, 0.0, "fallback", norm, fallback_reason="empty")
        best: dict[str, float] = {}
        for _, score, idx in process.extract(norm, self.choices, scorer=fuzz.token_set_ratio, limit=40):
            intent = self.labels[idx]
            best[intent] = max(best.get(intent, 0.0), score / 100)
        ranked = sorted(best.items(), key=lambda kv: -kv[1])
        alts = [{"intent": i, "topic": self.topics[i], "confidence": round(c, 3)} for i, c in ranked[:3]]
        intent, conf = ranked[0]
        topic = self.topics[intent]
        u = Understanding(text, intent, topic, conf, "answer", norm, alts, self.slots(norm))
        t = self.thresholds
        if conf < t["confirm"]:
            u.action, u.intent, u.topic = "fallback", None, None
            u.fallback_reason = f"top intent {intent} {conf:.2f} < confirm threshold {t['confirm']:.2f}"
        elif intent == "urgence":
            u.action = "emergency"
        elif intent == "parler_agent":
            u.action = "transfer"
        elif topic == "hors_mairie":
            u.action = "out_of_scope"
        elif len(ranked) > 1 and conf - ranked[1][1] < t["ambiguity"] and topic is not None:
            u.action = "clarify"
        elif conf < t["answer"]:
            u.action = "confirm"
        return u
