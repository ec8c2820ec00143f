"""Emergencies in the caller's own words: fire, smoke or gas, a fall, someone unconscious or not
answering, a flood, violence, a threat — whatever the flows' examples say.

A miss can cost a life and a false alarm costs one sentence, so this is a recall-first net of
word patterns over the folded utterance (`simplify`: lower case, no accents), checked before
anything else. The patterns go by category rather than by sentence: what burns or smells, who is
down and in what state, where the water is, what an attacker does or holds, self-harm, a child
where a child should not be. Phrases that share the words but are everyday town-hall business
("le feu rouge est en panne", "brûler mes déchets verts", "zone inondable", "détecteur de fumée
obligatoire") are excluded, and only when they are the only alarming words of the utterance.
The strongest words are also matched by sound, for what a recogniser misspells or merges.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from rapidfuzz.distance import Levenshtein

from callbot.dialog.normalize import simplify
from callbot.dialog.normalize_phonetic import phonetic_key

# The patterns are data (data/emergency_patterns.yaml): see that file for their format.
_PATTERNS = yaml.safe_load((Path(__file__).parent / "data" / "emergency_patterns.yaml").read_text("utf-8"))
_ALARM_TEXT: str = _PATTERNS["alarms"]
_NOT_ALARM_TEXT: str = _PATTERNS["not_alarms"]
_ALARM = [(kind.strip(), re.compile(p.strip())) for kind, _, p in
          (line.partition(":") for line in _ALARM_TEXT.strip().splitlines() if not line.startswith("#"))]
_NUISANCE = re.compile("|".join(line.strip() for line in _PATTERNS["nuisance"].strip().splitlines()
                                 if line.strip() and not line.startswith("#")))
_NUISANCE_KINDS = frozenset({"fire", "smoke_gas"})
_PAPERWORK = re.compile("|".join(line.strip() for line in _PATTERNS["paperwork"].strip().splitlines()
                                  if line.strip() and not line.startswith("#")))
_PAPERWORK_KINDS = frozenset({"fire", "smoke_gas", "flood", "violence", "threat"})
_EXCLUDED = re.compile("|".join(line.strip() for line in _NOT_ALARM_TEXT.strip().splitlines()
                                 if line.strip() and not line.startswith("#")))


# Words that say an emergency on their own, compared by sound: a recogniser writes "incendi",
# "etaitinconscient" or "kouto" and the patterns above miss them. Short or ambiguous keys (feu/fait,
# sang/sans, fumer, tombee/tombe, gas bills, relevé/relever) are left to the patterns; only long
# keys are compared with one letter of difference (secours/sejour, flammes/femme are one apart).
_BY_SOUND = [(phonetic_key(w), kind) for w, kind in [
    ("incendie", "fire"), ("flammes", "fire"), ("brule", "fire"),
    ("inonde", "flood"), ("inondation", "flood"), ("evanoui", "unconscious"),
    ("inconscient", "unconscious"), ("respire", "unconscious"), ("malaise", "unconscious"),
    ("couteau", "threat"), ("agression", "violence"), ("suicide", "suicide"), ("secours", "alarm"),
    ("pompiers", "alarm"), ("samu", "alarm"), ("urgence", "alarm")]]


# Everyday words that sound like one of the stems above ("sinon" ends like "inondé").
_NOT_BY_SOUND = frozenset({"sinon"})


def _sounds_alarming(words: str, quiet: frozenset[str] = frozenset()) -> str | None:
    for word in words.split():
        if len(word) < 3 or word in _NOT_BY_SOUND:
            continue
        key = phonetic_key(word)
        for stem, kind in _BY_SOUND:
            if kind in quiet:
                continue
            if (key == stem or key.endswith(stem) and len(stem) >= 4  # merged: "etaittombee"
                    or key.startswith(stem) and len(stem) >= 4 and len(key) - len(stem) <= 2
                    or len(stem) >= 7 and Levenshtein.distance(key, stem) <= 1):
                return f"{kind}: « {word} » (heard as {stem})"
    return None


# What simplify() would otherwise break or what callers and recognisers write for the same words:
# "cœur" (œ is no accent: simplify drops it), spoken "il bouge pu", "ya le feu", "chui tombé".
_LIGATURES = str.maketrans({"œ": "oe", "Œ": "oe", "æ": "ae", "Æ": "ae"})
_SPOKEN = [(re.compile(r"\bpu\b"), "plus"), (re.compile(r"\by(a|en a)\b"), r"il y \1"),
           (re.compile(r"\bchui\b"), "je suis"), (re.compile(r"\bpeut pu\b"), "peut plus")]


def _folded(text: str) -> str:
    said = simplify(text[:2000].translate(_LIGATURES))  # a phone turn; beyond is noise
    for pattern, words in _SPOKEN:
        said = pattern.sub(words, said)
    return said


def cleared(text: str) -> str:
    """The folded utterance without the everyday phrases that share alarm words ("détecteur de
    fumée", "feu rouge", "zone inondable"): what the patterns and the classifier read."""
    return _EXCLUDED.sub(" ", _folded(text))


def _quiet_kinds(said: str) -> frozenset[str]:
    """The alarm kinds that paperwork or a neighbour's nuisance in the folded words silence."""
    return (_NUISANCE_KINDS if _NUISANCE.search(said) else frozenset()) | (
        _PAPERWORK_KINDS if _PAPERWORK.search(said) else frozenset())


def silenced(text: str) -> bool:
    """Paperwork or a neighbour's nuisance ("permis de feu", "voisin bruyant"): what quiets the
    patterns' fire, smoke, flood, violence and threat kinds, and the classifier altogether."""
    return bool(_quiet_kinds(_folded(text)))


def emergency_reason(text: str) -> str | None:
    """Which kind of emergency the words describe (fire, fall, …), or None."""
    said = _folded(text)
    if not said:
        return None
    words = _EXCLUDED.sub(" ", said)  # as cleared() reads them
    quiet = _quiet_kinds(said)
    for name, pattern in _ALARM:
        if name in quiet:
            continue
        if (m := pattern.search(words)) is not None:
            return f"{name}: « {m.group(0).strip()} »"
    return _sounds_alarming(words, quiet)
