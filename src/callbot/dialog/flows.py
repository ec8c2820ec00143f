"""Load and validate the flow files of a commune (`flows/*.yaml`).

Each file is parsed with its line marks, validated by the pydantic models of `schema.py`, then
the sections of all files are merged and cross-checked (references between intents, services,
slot types, answer variables). Errors name `file:line: field: message`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from callbot.dialog.control import ControlIntent
from callbot.dialog.schema import (
    Commune,
    FlowFile,
    IntentDef,
    Prompts,
    Satisfaction,
    Settings,
    Transfers,
)
from callbot.vocabulary import TOPICS_FILE, TopicsError, topic_ids

# The dialog acts on these intents itself: every flow set defines them.
REQUIRED_CONTROL = [c.value for c in ControlIntent]
_VAR = re.compile(r"\{([a-z_]+)(?:\.([a-z_$]+))?\}")
# Filled in by the dialog itself: the intent label, the two intents to choose from, the number.
PROMPT_PLACEHOLDERS = frozenset({"label", "a", "b", "numero", "link"})
VARIABLES = {"horaires", "aujourdhui", "demain", "jour", "telephone", "nom", "commune", "adresse"}


# libyaml when available: the demo's flows parse several times faster.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class FlowError(Exception):
    """The flows cannot be used. `.errors` lists "file:line: field: message"."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        super().__init__("flows invalides :\n" + "\n".join(errors))


@dataclass
class Flows:
    commune: Commune
    settings: Settings
    prompts: Prompts
    transfers: Transfers
    satisfaction: Satisfaction
    intents: list[IntentDef]
    slot_types: dict[str, dict[str, list[str]]]
    nlu_thresholds: dict[str, float]
    directory: Path | None = None
    files: list[Path] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.by_id = {i.id: i for i in self.intents}

    def intent(self, intent_id: str | None) -> IntentDef | None:
        return self.by_id.get(intent_id) if intent_id else None


def _line_map(node: yaml.Node, path: tuple = (), out: dict | None = None) -> dict[tuple, int]:
    """Path of keys/indices → 1-based line of the value (or of the key for mappings)."""
    out = {} if out is None else out
    out.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            key = k.value
            out[path + (key,)] = k.start_mark.line + 1
            _line_map(v, path + (key,), out)
            out[path + (key,)] = k.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            _line_map(v, path + (i,), out)
    return out


def _line_for(lines: dict[tuple, int], loc: tuple) -> int:
    loc = tuple(loc)
    while loc and loc not in lines:
        loc = loc[:-1]
    return lines.get(loc, 1)


def _field_name(loc: tuple) -> str:
    # pydantic marks an error on a mapping's key with a trailing "[key]": the key names it already.
    return ".".join(str(p) for p in loc if p != "[key]") or "(racine)"


def _parse_file(path: Path, rel: str, errors: list[str],
                topics: tuple[str, ...] = ()) -> tuple[FlowFile | None, dict[tuple, int]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        errors.append(f"{rel}:1: (fichier): illisible: {e}")
        return None, {}
    try:
        node = yaml.compose(text, Loader=_LOADER)
        data = yaml.load(text, Loader=_LOADER)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        problem = getattr(e, "problem", None) or str(e)
        errors.append(f"{rel}:{line}: (syntaxe YAML): {problem}")
        return None, {}
    if data is None:
        return FlowFile(), {}
    lines = _line_map(node) if node is not None else {}
    if not isinstance(data, dict):
        errors.append(f"{rel}:1: (racine): un dictionnaire de sections est attendu")
        return None, lines
    try:
        return FlowFile.model_validate(data, context={"topics": topics}), lines
    except ValidationError as e:
        for err in e.errors():
            loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
            errors.append(f"{rel}:{_line_for(lines, loc)}: {_field_name(loc)}: {err['msg']}")
        return None, lines


def flow_files(path: Path) -> list[Path]:
    """The flow files of a directory (flows/tests/ holds conversation tests, not flows)."""
    if path.is_file():
        return [path]
    return sorted(p for p in path.rglob("*.y*ml") if p.suffix in (".yaml", ".yml") and "tests" not in
                  p.relative_to(path).parts[:-1] and p.relative_to(path) != Path(TOPICS_FILE))


def load_flows(path: Path) -> Flows:
    """Load every flow file under `path`. Raises FlowError listing every problem found."""
    path = Path(path)
    if not path.exists():
        raise FlowError([f"{path}:0: (répertoire): introuvable"])
    files = flow_files(path)
    if not files:
        raise FlowError([f"{path}:0: (répertoire): aucun fichier .yaml de flows"])
    errors: list[str] = []
    base = path if path.is_dir() else path.parent
    try:
        topics = topic_ids(base)
    except TopicsError as e:
        raise FlowError([f"{base}:0: (topics.yaml): {e}"]) from None
    singles: dict[str, tuple[Any, str, int]] = {}
    intents: list[tuple[IntentDef, str, int]] = []
    slot_types: dict[str, dict[str, list[str]]] = {}
    slot_lines: dict[tuple[str, str], str] = {}
    thresholds: dict[str, float] = {}
    for f in files:
        rel = str(f.relative_to(base)) if f != base else f.name
        parsed, lines = _parse_file(f, rel, errors, topics)
        if parsed is None:
            continue
        for section in ("commune", "settings", "prompts", "transfers", "satisfaction"):
            value = getattr(parsed, section)
            if value is None:
                continue
            if section in singles:
                errors.append(f"{rel}:{_line_for(lines, (section,))}: {section}: section déjà définie dans "
                              f"{singles[section][1]}")
            else:
                singles[section] = (value, rel, _line_for(lines, (section,)))
        for name, values in (parsed.slot_types or {}).items():
            if name in slot_types:
                errors.append(f"{rel}:{_line_for(lines, ('slot_types', name))}: slot_types.{name}: "
                              "type déjà défini")
            slot_types[name] = {k: list(v or []) for k, v in values.items()}
            for value in values:
                slot_lines[(name, value)] = f"{rel}:{_line_for(lines, ('slot_types', name, value))}"
        thresholds.update(parsed.nlu_thresholds or {})
        for i, intent in enumerate(parsed.intents or []):
            intents.append((intent, rel, _line_for(lines, ("intents", i, "id"))))

    for section in ("commune", "prompts"):
        if section not in singles and not errors:
            errors.append(f"{base}:0: {section}: section obligatoire absente de tous les fichiers")
    if errors:
        raise FlowError(errors)

    commune: Commune = singles["commune"][0]
    settings: Settings = singles.get("settings", (Settings(),))[0]
    transfers: Transfers = singles.get("transfers", (Transfers(),))[0]
    _cross_check(commune, settings, transfers, singles, intents, slot_types, errors)
    # `{horaires.$service}` and transfers read service slot values as service ids.
    for value in slot_types.get("service", {}):
        if value not in commune.services:
            errors.append(f"{slot_lines[('service', value)]}: slot_types.service.{value}: "
                          "n'est pas un service de commune.services")
    if errors:
        raise FlowError(errors)
    return Flows(
        commune=commune, settings=settings, prompts=singles["prompts"][0], transfers=transfers,
        satisfaction=singles.get("satisfaction", (Satisfaction(),))[0],
        intents=[i for i, _, _ in intents], slot_types=slot_types, nlu_thresholds=thresholds,
        directory=base, files=files,
    )


def _check_text(text: str, where: str, services: dict, slot_names: set[str], errors: list[str],
                extra: frozenset[str] = frozenset()) -> None:
    for m in _VAR.finditer(text):
        var, arg = m.group(1), m.group(2)
        if var in extra and arg is None:
            continue
        if var not in VARIABLES:
            errors.append(f"{where}: variable inconnue {{{m.group(0)[1:-1]}}} "
                          f"(connues : {', '.join(sorted(VARIABLES))})")
        elif var in {"horaires", "aujourdhui", "demain", "jour", "telephone", "nom"}:
            if arg is None:
                continue
            if arg.startswith("$"):
                if arg[1:] not in slot_names:
                    errors.append(f"{where}: {{{var}.{arg}}} : l'intention n'a pas de slot {arg[1:]!r}")
            elif arg not in services:
                errors.append(f"{where}: {{{var}.{arg}}} : service inconnu {arg!r}")


def _cross_check(commune: Commune, settings: Settings, transfers: Transfers, singles: dict,
                 intents: list[tuple[IntentDef, str, int]], slot_types: dict, errors: list[str]) -> None:
    services = commune.services
    seen: dict[str, str] = {}
    for intent, rel, line in intents:
        where = f"{rel}:{line}: intents.{intent.id}"
        if intent.id in seen:
            errors.append(f"{where}: identifiant déjà utilisé dans {seen[intent.id]}")
        seen[intent.id] = f"{rel}:{line}"
        if intent.service and intent.service not in services:
            errors.append(f"{where}.service: service inconnu {intent.service!r}")
        slot_names = {s.name for s in intent.slots}
        for s in intent.slots:
            if s.type != "date" and s.type not in slot_types:
                errors.append(f"{where}.slots.{s.name}: type de slot inconnu {s.type!r}")
        for slot, values in intent.variants.items():
            if slot not in slot_names:
                errors.append(f"{where}.variants.{slot}: l'intention n'a pas de slot {slot!r}")
                continue
            stype = next(s.type for s in intent.slots if s.name == slot)
            for value, text in values.items():
                if stype in slot_types and value not in slot_types[stype]:
                    errors.append(f"{where}.variants.{slot}.{value}: valeur absente du type {stype!r}")
                _check_text(text, f"{where}.variants.{slot}.{value}", services, slot_names, errors)
        for name in ("answer",):
            text = getattr(intent, name)
            if text:
                _check_text(text, f"{where}.{name}", services, slot_names, errors)
        business = intent.topic not in (None, ControlIntent.AGENT, ControlIntent.EMERGENCY)
        if business and not intent.answer and not intent.transfer:
            errors.append(f"{where}.answer: une intention métier doit avoir une réponse ou transfer: true")
        if intent.follow_up:
            for part in ("question", "if_yes", "if_no"):
                text = getattr(intent.follow_up, part)
                if text:
                    _check_text(text, f"{where}.follow_up.{part}", services, slot_names, errors)
    for cid in REQUIRED_CONTROL:
        if cid not in seen:
            errors.append(f"(flows):0: intents: l'intention de contrôle {cid!r} est obligatoire")
    trel = singles.get("transfers", (None, "(flows)", 0))
    if transfers.default not in services:
        errors.append(f"{trel[1]}:{trel[2]}: transfers.default: service inconnu {transfers.default!r}")
    for topic, svc in transfers.topics.items():
        if svc not in services:
            errors.append(f"{trel[1]}:{trel[2]}: transfers.topics.{topic}: service inconnu {svc!r}")
    for svc_id, svc in services.items():
        if not svc.queue and not svc.phone:
            crel = singles["commune"]
            errors.append(f"{crel[1]}:{crel[2]}: commune.services.{svc_id}: ni queue ni phone : "
                          "impossible d'y transférer un appel")
    srel = singles.get("settings", (None, "(flows)", 0))
    for digit, iid in settings.menu.items():
        if iid not in seen:
            errors.append(f"{srel[1]}:{srel[2]}: settings.menu.{digit}: intention inconnue {iid!r}")
    prel = singles["prompts"]
    prompts: Prompts = prel[0]
    for name, value in prompts.model_dump().items():
        for text in value if isinstance(value, list) else [value]:
            _check_text(text, f"{prel[1]}:{prel[2]}: prompts.{name}", services, set(), errors,
                        PROMPT_PLACEHOLDERS)
