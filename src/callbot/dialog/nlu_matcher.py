"""The intent matcher trained from the flow examples: stemmed words + character n-grams, TF-IDF.

Nothing here knows any intent: every weight comes from the examples. Two views of an utterance
are compared with every example and with each intent's centroid:
- stemmed content words and their bigrams (what the request is about), IDF computed over intents
  so words every intent uses ("je voudrais savoir") weigh nothing;
- character 3/4-grams of the content words (survives misheard endings, merges and splits).
Words the examples never use are first snapped onto the closest known word (rapidfuzz), which is
how "pasport" or "inscrition" still count; what remains unknown marks the utterance out of domain.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import snowballstemmer
from rapidfuzz import fuzz, process

from callbot.dialog.normalize import normalize
from callbot.dialog.normalize_phonetic import phonetic_key

# Function words and request verbs: they say how someone asks, not what about.
_STOPWORDS_TEXT = """
a au aux avec ce ces cet cette ceci cela ca de des du en et est il ils elle elles je j la le les leur
leurs lui ma me mes mon moi ne nos notre nous on ou par pour que qui quel quelle quels quelles sa se
ses son sur ta te tes toi ton tu un une vos votre vous y 1 est etait suis sont ai as avez avons ont
dans donc mais alors si comme tout tous toute toutes tres plus aussi encore deja
voudrais voudrait voulais veux veut vouloir souhaite souhaiterais souhaitais aimerais aimerait
savoir sais sait connaitre dire dites pouvez pourriez peux peut pourrais pourrait puis
faut faudrait fait faire fais faites fasse fassent dois doit devez devons devrais devrait
comment quoi quand ou combien pourquoi
c est ci la cest
"""
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())
CACHE_MAX = 50_000
_stemmer = snowballstemmer.stemmer("french")


@lru_cache(maxsize=16384)
def stem(word: str) -> str:
    return word if word.isdigit() else _stemmer.stemWord(word)


def content_words(normalized: str) -> list[str]:
    """Words that say what about; all words when there are none ("tout à fait", "comment")."""
    words = normalized.split()
    return [w for w in words if w not in STOPWORDS] or words


@dataclass
class Features:
    words: list[str]  # content words after snapping onto the vocabulary
    unknown: list[str]  # content words no example uses, even fuzzily
    word: Counter
    char: Counter
    known_share: float = 1.0  # IDF-weighted share of the content words the examples know
    known_mass: float = 0.0  # IDF mass of the known words, in units of one single-intent word
    background: float = 0.0  # similarity to everyday talk minus similarity to the flows (nlu_background)


class Vocabulary:
    """The flows' words, to snap misheard words onto: same stem, same sound, or close spelling."""

    def __init__(self, words: set[str], snap_min: float) -> None:
        self.words = words
        self.stems = {stem(w) for w in words}
        self.snap_min = snap_min
        self._by_sound: dict[str, str] = {}
        for w in sorted(words, key=lambda w: (-len(w), w)):
            if len(w) >= 3 and not w.isdigit():
                self._by_sound.setdefault(phonetic_key(w), w)
        # Only words long enough that a fuzzy match means something.
        self._choices = sorted(w for w in words if len(w) >= 4)
        self._cache: dict[str, str | None] = {}

    def knows(self, word: str) -> bool:
        return word in self.words or stem(word) in self.stems

    def repair(self, tokens: list[str]) -> list[tuple[str, bool]]:
        """Undo a recogniser's splits ("iden tite") and merges ("badgepour"), then snap each word.

        Returns (word, known) pairs; unknown words keep their heard spelling."""
        out: list[tuple[str, bool]] = []
        i = 0
        while i < len(tokens):
            w = tokens[i]
            if w in STOPWORDS or self.knows(w):
                out.append((w, True))
                i += 1
                continue
            if i + 1 < len(tokens) and (joined := self.snap(w + tokens[i + 1])) is not None:
                out.append((joined, True))
                i += 2
                continue
            if (parts := self._split(w)) is not None:
                out += [(p, True) for p in parts]
                i += 1
                continue
            snapped = self.snap(w)
            out.append((snapped, True) if snapped is not None else (w, False))
            i += 1
        return out

    def _split(self, word: str) -> tuple[str, str] | None:
        for cut in range(2, len(word) - 1):
            left, right = word[:cut], word[cut:]
            if (left in self.words or left in STOPWORDS) and (right in self.words or right in STOPWORDS):
                return left, right
        return None

    def snap(self, word: str) -> str | None:
        if self.knows(word):
            return word
        if word not in self._cache:
            if len(self._cache) >= CACHE_MAX:  # a long-running server hears endless new words
                self._cache.clear()
            self._cache[word] = self._closest(word)
        return self._cache[word]

    def _closest(self, word: str) -> str | None:
        if len(word) >= 3 and (same := self._by_sound.get(phonetic_key(word))):
            return same
        if len(word) < 4:
            return None
        # Short words need a closer match: "beau" is not "bureau".
        cutoff = self.snap_min + (100 - self.snap_min) * 0.5 * (len(word) <= 5)
        best = process.extractOne(word, self._choices, scorer=fuzz.ratio, score_cutoff=cutoff)
        return best[0] if best else None


def _char_grams(word: str) -> list[str]:
    padded = f" {word} "
    grams = []
    for n in (3, 4):
        grams += [padded[i:i + n] for i in range(len(padded) - n + 1)]
    return grams


def featurize(normalized: str, vocab: Vocabulary | None) -> Features:
    words, unknown = [], []
    # Repair and snap first ("commant" → "comment"), then drop what turns out to be a function word.
    pairs = vocab.repair(normalized.split()) if vocab else [(w, True) for w in normalized.split()]
    missing = {w for w, known in pairs if not known}
    for w in content_words(" ".join(w for w, _ in pairs)):
        (unknown if w in missing else words).append(w)
    stems = [stem(w) for w in words]
    word = Counter(stems)
    word.update(f"{a}_{b}" for a, b in zip(stems, stems[1:], strict=False))
    char = Counter(g for w in words + unknown for g in _char_grams(w))
    return Features(words, unknown, word, char)


def _scaled(c: Counter, factor: float = 0.5) -> Counter:
    return Counter({k: v * factor for k, v in c.items()})


class _Space:
    """One TF-IDF view: rows for examples and for intent centroids, L2-normalised."""

    def __init__(self, docs: list[Counter], labels: list[int], n_intents: int, unknown_weight: float,
                 descriptions: list[Counter] | None = None) -> None:
        self.unknown_weight = unknown_weight
        per_intent: list[Counter] = [Counter() for _ in range(n_intents)]
        for doc, label in zip(docs, labels, strict=True):
            per_intent[label].update(doc)
        for label, doc in enumerate(descriptions or []):
            per_intent[label].update(doc)
        df = Counter(f for c in per_intent for f in c)
        self.index = {f: i for i, f in enumerate(sorted(df))}
        # IDF over intents: a feature every intent uses carries no information.
        self.idf = np.array([math.log((n_intents + 1) / (df[f] + 0.5)) for f in sorted(df)])
        self.idf = np.maximum(self.idf, 0.0)
        self.unknown_idf = math.log((n_intents + 1) / 0.5)
        # Feature-major (transposed) so a query reads a few contiguous rows.
        self.examples_t = np.ascontiguousarray(self._matrix(docs).T)
        self.centroids_t = np.ascontiguousarray(self._matrix(per_intent).T)

    def _matrix(self, docs: list[Counter]) -> np.ndarray:
        m = np.zeros((len(docs), len(self.index)), dtype=np.float32)
        for r, doc in enumerate(docs):
            for f, tf in doc.items():
                m[r, self.index[f]] = (1 + math.log(tf)) * self.idf[self.index[f]]
        norms = np.linalg.norm(m, axis=1, keepdims=True)
        return m / np.where(norms == 0, 1, norms)

    def query(self, doc: Counter) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Cosine of the query with every example and every centroid (+ the known columns)."""
        cols, vals, unknown_sq = [], [], 0.0
        for f, tf in doc.items():
            w = 1 + math.log(tf)
            i = self.index.get(f)
            if i is None:
                unknown_sq += (w * self.unknown_idf * self.unknown_weight) ** 2
            else:
                cols.append(i)
                vals.append(w * self.idf[i])
        v = np.array(vals, dtype=np.float32)
        norm = math.sqrt(float(v @ v) + unknown_sq) if cols or unknown_sq else 0.0
        if not cols or norm == 0:
            return np.zeros(self.examples_t.shape[1]), np.zeros(self.centroids_t.shape[1]), v
        v = v / norm
        return v @ self.examples_t[cols], v @ self.centroids_t[cols], v


class Matcher:
    """Scores every intent for a normalised utterance; higher is closer, 0..1."""

    def __init__(self, examples: list[tuple[str, int]], n_intents: int, snap_min: float = 80.0,
                 char_weight: float = 0.4, centroid_weight: float = 0.7, unknown_weight: float = 0.5,
                 descriptions: list[str] | None = None) -> None:
        """`descriptions`: per intent, the text the flows say about it (label, answer…). It widens
        the intent's vocabulary (its centroid) without counting as an example phrasing."""
        self.n_intents = n_intents
        self.char_weight = char_weight
        self.centroid_weight = centroid_weight
        normalized = [(normalize(text), label) for text, label in examples]
        desc = [normalize(d) for d in (descriptions or [])]
        words = {w for text in [t for t, _ in normalized] + desc for w in text.split()}
        self.vocab = Vocabulary(words, snap_min)
        feats = [featurize(text, None) for text, _ in normalized]
        desc_feats = [featurize(d, None) for d in desc]
        labels = [label for _, label in normalized]
        self.labels = np.array(labels)
        self.word = _Space([f.word for f in feats], labels, n_intents, unknown_weight,
                           [_scaled(f.word) for f in desc_feats])
        self.char = _Space([f.char for f in feats], labels, n_intents, unknown_weight,
                           [_scaled(f.char) for f in desc_feats])

    def _per_intent_max(self, sims: np.ndarray) -> np.ndarray:
        best = np.zeros(self.n_intents, dtype=np.float32)
        np.maximum.at(best, self.labels, sims.astype(np.float32))
        return best

    def scores(self, normalized: str) -> tuple[np.ndarray, Features]:
        feats = featurize(normalized, self.vocab)
        known = sum(self.word.idf[i] for w in feats.words if (i := self.word.index.get(stem(w))) is not None)
        unknown = self.word.unknown_idf * len(feats.unknown)
        feats.known_share = known / (known + unknown) if known + unknown > 0 else 1.0
        feats.known_mass = known / self.word.unknown_idf
        ex_w, cen_w, _ = self.word.query(feats.word)
        ex_c, cen_c, _ = self.char.query(feats.char)
        cw = self.centroid_weight
        word = (1 - cw) * self._per_intent_max(ex_w) + cw * cen_w
        char = (1 - cw) * self._per_intent_max(ex_c) + cw * cen_c
        return (1 - self.char_weight) * word + self.char_weight * char, feats
