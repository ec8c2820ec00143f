"""French normalisation of what a phone recogniser outputs, before matching.

A recogniser gives lower case, no punctuation, numbers in words and misheard words. Both the flow
examples and the caller's words go through `normalize()`, so whatever it does (accents folded,
elisions split, numbers as digits) is the same on both sides of the matcher.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from text_to_num import alpha2digit

# Hesitations and fillers a recogniser transcribes; they carry no meaning.
_HESITATIONS_TEXT = "euh euhh heu heuu hum hmm hm mmh mm ben bah beh bon ah oh eh ouf genre"
HESITATIONS = frozenset(_HESITATIONS_TEXT.split())
# Politeness that wraps a request without changing it ("bonjour madame je voudrais…").
POLITENESS = (
    "il vous plait", "il te plait", "sil vous plait", "si vous plait", "excusez moi", "excusez-moi",
    "pardon de vous deranger", "desole de vous deranger", "bonjour", "bonsoir", "madame", "monsieur",
    "mademoiselle", "allo",
)
# Frequent misrecognitions of small French models on town-hall words (folded spelling → fix).
ASR_CONFUSIONS = {
    "passe port": "passeport",
    "passe ports": "passeports",
    "identiter": "identite",
    "pack": "pacs", "pax": "pacs", "pacse": "pacs", "pacser": "pacs", "pacsee": "pacs",
    "pacses": "pacs", "paxe": "pacs",
    "c n i": "cni",
    "c c a s": "ccas",
    "p l u": "plu",
    "j d c": "jdc",
    "c a f": "caf",
    "la merie": "la mairie", "merie": "mairie",
    "dechetterie": "decheterie", "dechetteries": "decheterie",
    "encombrant": "encombrants",
    "rendez vous": "rendezvous", "rendez-vous": "rendezvous", "rdv": "rendezvous",
    "week end": "weekend",
    "aujourd hui": "aujourdhui",
    "apres midi": "apresmidi",
    "nid de poule": "nidpoule", "nids de poule": "nidpoule", "nid de poules": "nidpoule",
    "etat civil": "etatcivil",
    "taxe fonciere": "taxe fonciere",
}
# Written requests (a chat, an SMS, a web form) use texting shorthand: "la garderie elle ferme qd",
# "faut koi comme papier". Whole words only, replaced before anything else reads them.
CHAT_SHORTHAND = {
    "qd": "quand", "kan": "quand", "koi": "quoi", "kwa": "quoi", "pk": "pourquoi", "pq": "pourquoi",
    "pkoi": "pourquoi", "cb": "combien", "cmb": "combien", "pr": "pour", "ds": "dans", "dc": "donc",
    "bcp": "beaucoup", "tt": "tout", "tjs": "toujours", "tjrs": "toujours", "ns": "nous",
    "jsp": "je ne sais pas", "jsuis": "je suis", "chui": "je suis", "qqn": "quelqu un",
    "qqch": "quelque chose", "qq": "quelques", "bjr": "bonjour", "slt": "salut", "mr": "monsieur",
    "mme": "madame", "avc": "avec", "svp": "s il vous plait", "stp": "s il te plait", "ya": "il y a",
    "yen a": "il y en a", "aprem": "apresmidi", "exo": "exercice", "dispo": "disponible",
}
_APOSTROPHES = re.compile(r"[’'`´‘]")
_NON_WORD = re.compile(r"[^a-z0-9 ]+")
_SPACES = re.compile(r"\s+")
# Elided one-letter articles/pronouns (l', d', j', qu', n', s', c', m', t') left after splitting.
_ELISIONS = frozenset(["l", "d", "j", "n", "s", "c", "m", "t", "qu"])


def fold(text: str) -> str:
    """Lower case without accents (é → e, ç → c, œ → oe)."""
    text = text.lower().replace("œ", "oe").replace("æ", "ae")
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def simplify(text: str) -> str:
    """Lower case, no accents, words and digits only: how the dialog compares what it heard with
    fixed words (labels, synonyms, "premier"), with no other rewriting."""
    text = unicodedata.normalize("NFD", text.lower())
    text = "".join(c for c in text if unicodedata.category(c) != "Mn")
    text = re.sub(r"[^a-z0-9]+", " ", text.replace("'", " "))
    return " ".join(text.split())


def _numbers(text: str) -> str:
    """Numbers and times in words → digits (« quatorze heures trente » → « 14 heures 30 »)."""
    # text2num works on accented words; "zero" without accent is not a number to it.
    text = re.sub(r"\bzero\b", "zéro", text)
    try:
        return alpha2digit(text, "fr", threshold=1)
    except Exception:  # noqa: BLE001 - a library hiccup must not lose the utterance
        return text


def _replace_phrases(text: str, table: dict[str, str]) -> str:
    padded = f" {text} "
    for wrong, right in table.items():
        if f" {wrong} " in padded:
            padded = padded.replace(f" {wrong} ", f" {right} ")
    return padded.strip()


@lru_cache(maxsize=4096)
def normalize(text: str) -> str:
    """The canonical form of an utterance: folded, numbers as digits, fillers removed."""
    if not text:
        return ""
    text = _APOSTROPHES.sub(" ", str(text).lower())
    text = text.replace("-", " ")
    text = _numbers(text)
    text = fold(text)
    text = _NON_WORD.sub(" ", text)
    text = _SPACES.sub(" ", text).strip()
    words = [w for w in text.split() if w not in HESITATIONS]
    text = _replace_phrases(" ".join(words), CHAT_SHORTHAND)
    words = text.split()
    # Confusions first: spelled acronyms ("c c a s") are made of one-letter words.
    text = _replace_phrases(" ".join(words), ASR_CONFUSIONS)
    text = " ".join(w for w in text.split() if w not in _ELISIONS)
    stripped = _replace_phrases(text, {p: " " for p in (fold(x) for x in POLITENESS)})
    stripped = _SPACES.sub(" ", stripped).strip()
    # "bonjour" alone stays "bonjour": only strip politeness around a request.
    return stripped or text
