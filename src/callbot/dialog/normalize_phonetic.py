"""A rough French phonetic key: words that sound alike get the same key.

Recognisers write what they hear, so a misrecognised word is often a homophone spelled another
way ("fès" for "fais", "identiter" for "identite", "pasport" for "passeport"). Comparing keys lets
the matcher snap such words onto the flows' vocabulary. Input is already folded (no accents).
"""

from __future__ import annotations

import re
from functools import lru_cache

# Ordered rewrites: longest graphemes first.
_RULES = [
    (r"eaux?$", "o"), (r"aux$", "o"), (r"eau", "o"), (r"au", "o"),
    (r"(ez|er|ai|ait|ais|et)$", "e"), (r"ai", "e"), (r"ei", "e"),
    (r"ph", "f"), (r"qu", "k"), (r"ck", "k"), (r"sc(?=[eiy])", "s"), (r"c(?=[eiy])", "s"), (r"c", "k"),
    (r"g(?=[eiy])", "j"),
    (r"(?<=[aeiouy])s(?=[aeiouy])", "z"), (r"sc(?=[eiy])", "s"), (r"ss", "s"),
    (r"tion", "sion"), (r"(em|en|am)(?=[^aeiouy]|$)", "an"), (r"(im|in|ym|yn|ain|ein)(?=[^aeiouy]|$)", "in"),
    (r"(om|on)(?=[^aeiouy]|$)", "on"), (r"h", ""), (r"y", "i"), (r"w", "v"), (r"x", "ks"),
    (r"([a-z])\1+", r"\1"),
    (r"(?<=[aeiouy][^aeiouy])e(?=[^aeiouy])", ""),  # mute e inside a word (passeport, samedi)
    (r"(?<=..)(e|s|t|d|x|p|(?<=n)g)+$", ""),  # silent endings
]
_COMPILED = [(re.compile(p), r) for p, r in _RULES]


@lru_cache(maxsize=16384)
def phonetic_key(word: str) -> str:
    key = word
    for pattern, repl in _COMPILED:
        key = pattern.sub(repl, key)
    return key or word
