"""Perturb text the way a small phone recogniser does, deterministically (for `callbot eval nlu`).

A recogniser at 25 % word error drops short words, hears a similar-sounding word, merges two
words or splits one, and gets number words wrong. `asr_noise(text, rate, seed)` applies those
errors to about `rate` of the words; the same (text, rate, seed) always gives the same output.
"""

from __future__ import annotations

import random
import re

# Words a French recogniser commonly confuses (both directions are used).
SOUND_ALIKE = [
    ("mairie", "marie"), ("est", "et"), ("ces", "ses"), ("c'est", "s'est"), ("à", "a"), ("ou", "où"),
    ("vers", "verre"), ("cours", "court"), ("temps", "tant"), ("faim", "fin"), ("mer", "maire"),
    ("voix", "voie"), ("poids", "pois"), ("compte", "conte"), ("date", "datte"), ("sans", "cent"),
    ("vingt", "vin"), ("pain", "pin"), ("salle", "sale"), ("ville", "vil"), ("carte", "quarte"),
    ("permis", "permit"), ("acte", "acté"), ("passeport", "passe-port"), ("papiers", "papier"),
    ("naissance", "naissant"), ("décès", "des c"), ("mariage", "marriage"), ("pacs", "pas"),
    ("voisin", "voisins"), ("poubelle", "poubelles"), ("école", "écolo"), ("heure", "heur"),
    ("faire", "fer"), ("père", "paire"), ("mère", "maire"), ("fils", "fil"), ("chien", "chiens"),
    ("inscrire", "inscrit"), ("renouveler", "renouvelé"), ("perdu", "perdue"), ("vol", "volé"),
    ("je", "jeu"), ("voudrais", "voudrait"), ("le", "leur"), ("de", "deux"), ("un", "hum"),
]
NUMBER_ALIKE = [("deux", "douze"), ("trois", "treize"), ("six", "seize"), ("seize", "treize"),
                ("quatre", "quatorze"), ("cinq", "cent"), ("dix", "six"), ("huit", "oui"),
                ("sept", "cette"), ("onze", "once"), ("vingt", "vin"), ("trente", "trente-six")]
FILLERS = ["euh", "le", "de", "et", "hum", "ah"]
# Spelling rewrites that keep the sound (ph → f, eau → o …), to fake an unseen sound-alike.
_SOUND_REWRITES = [("eau", "o"), ("au", "o"), ("ph", "f"), ("qu", "k"), ("ss", "s"), ("ai", "è"),
                   ("é", "er"), ("er", "é"), ("ll", "l"), ("tion", "sion"), ("en", "an"), ("an", "en"),
                   ("ç", "s"), ("mm", "m"), ("tt", "t")]
_TABLE: dict[str, list[str]] = {}
for _a, _b in SOUND_ALIKE + NUMBER_ALIKE:
    _TABLE.setdefault(_a, []).append(_b)
    _TABLE.setdefault(_b, []).append(_a)
_PUNCT = re.compile(r"[^\w' ]+")


def asr_like(text: str) -> str:
    """What a recogniser would print: lower case, no punctuation, no hyphens."""
    return " ".join(_PUNCT.sub(" ", text.lower().replace("-", " ")).split())


def _sound_alike(word: str, rng: random.Random) -> str:
    if word in _TABLE:
        return rng.choice(_TABLE[word])
    candidates = [(a, b) for a, b in _SOUND_REWRITES if a in word]
    if candidates:
        a, b = rng.choice(candidates)
        return word.replace(a, b, 1)
    # Final letters are often silent in French: drop or add one.
    if len(word) > 3 and word[-1] in "setxd":
        return word[:-1]
    return word + "s"


def asr_noise(text: str, rate: float, seed: int = 0) -> str:
    """`text` with about `rate` of its words misrecognised (drop / sound-alike / merge / split)."""
    words = asr_like(text).split()
    if rate <= 0 or not words:
        return " ".join(words)
    rng = random.Random(f"{seed}:{rate}:{text}")
    out: list[str] = []
    i = 0
    while i < len(words):
        w = words[i]
        if rng.random() >= rate:
            out.append(w)
            i += 1
            continue
        op = rng.random()
        if op < 0.25:
            pass  # dropped
        elif op < 0.70:
            out.append(_sound_alike(w, rng))
        elif op < 0.85 and i + 1 < len(words):
            out.append(w + words[i + 1])  # two words heard as one
            i += 1
        elif len(w) >= 6:
            cut = rng.randint(2, len(w) - 3)
            out += [w[:cut], w[cut:]]  # one word heard as two
        else:
            out += [w, rng.choice(FILLERS)]  # an inserted short word
        i += 1
    return " ".join(out)
