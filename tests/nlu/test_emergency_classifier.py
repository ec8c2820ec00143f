"""The learnt emergency net (emergency_model.py) as a caller and an operator notice it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from loguru import logger

from callbot.dialog import emergency_model
from callbot.dialog.emergency import emergency_reason
from callbot.dialog.engine import make_nlu
from callbot.dialog.flows import load_flows

ROOT = Path(__file__).resolve().parents[2]
CALLBOT = [sys.executable, "-m", "callbot.cli"]


def _nlu_cli(lines: list[str]) -> list[dict]:
    env = {**os.environ, "CALLBOT_FLOWS": str(ROOT / "flows"), "PYTHONIOENCODING": "utf-8"}
    out = subprocess.run([*CALLBOT, "nlu"], input="\n".join(lines) + "\n", env=env, capture_output=True,
                         text=True, timeout=300, check=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_a_real_wording_no_pattern_catches_gets_the_emergency_action() -> None:
    # emergency_dev2.jsonl (a fire told by a neighbour): no pattern of emergency.py fires on it.
    said = ("Ils habitent la maison voisine. Quand j'ai voulu les prévenir, "
            "je ne pouvais pas ouvrir leur portail")
    assert emergency_reason(said) is None
    [obj] = _nlu_cli([said])
    assert (obj["action"], obj["topic"]) == ("emergency", "urgence"), obj


def test_everyday_questions_raise_no_alarm() -> None:
    said = ["je voudrais refaire ma carte d'identité", "les horaires de la déchetterie",
            "comment obtenir un permis de construire", "j'ai un permis de feu pour brûler mes déchets verts",
            "mon voisin fait du bruit tous les soirs"]
    objs = _nlu_cli(said)
    assert [o["action"] for o in objs if o["action"] == "emergency"] == [], objs


def test_held_out_file_is_mostly_caught_by_a_model_that_never_saw_it() -> None:
    # Generalisation, not memory: trained on three files and the flows' examples, the classifier
    # alone catches most of the fourth file's emergencies and few of its look-alikes.
    flows = load_flows(ROOT / "flows")
    train = emergency_model.emergency_examples(emergency_model.FILES[:2] + emergency_model.FILES[3:])
    model = emergency_model.EmergencyModel.train(train + emergency_model.everyday_examples(flows.intents, []))
    held = emergency_model.emergency_examples(["emergency_blind.jsonl"])
    real = [e for e in held if e.emergency]
    looks = [e for e in held if not e.emergency]
    assert sum(model.reason(e.text) is not None for e in real) / len(real) >= 0.75
    assert sum(model.reason(e.text) is not None for e in looks) / len(looks) <= 0.5


def test_server_start_without_the_classifier_runs_on_the_patterns_and_says_so(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALLBOT_NLU_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(emergency_model, "DATA_DIR", tmp_path / "absent")  # package data missing
    monkeypatch.setattr("callbot.dialog.topic_model.load_or_build",
                        lambda intents: (None, "flows-only: test"))
    logs: list[str] = []
    sink = logger.add(logs.append, level="WARNING", format="{message}")
    try:
        nlu = make_nlu(load_flows(ROOT / "flows"))  # what the server does at start
    finally:
        logger.remove(sink)
    assert nlu.emergency_model is None
    assert any("emergency classifier unavailable" in line and "patterns alone" in line for line in logs), logs
    assert nlu.understand("au secours il y a le feu chez moi").action == "emergency"


def test_the_classifier_alone_adds_the_numbers_to_a_confident_request_unless_it_is_sure() -> None:
    from callbot.dialog.nlu_routing import SURE_ALARM, classifier_alarm
    from callbot.dialog.types import Understanding

    def oriented() -> Understanding:
        return Understanding("Je veux vendre ma voiture, il me faut quoi comme papier de non-gage ?",
                             "carte_grise_permis", "hors_mairie", 0.9, "orient")

    unsure = classifier_alarm(oriented(), "classifier: 0.10 ≥ 0.07", 0.10)
    assert (unsure.action, unsure.topic) == ("orient", "hors_mairie") and unsure.gives_emergency_numbers
    sure = classifier_alarm(oriented(), f"classifier: {SURE_ALARM:.2f} ≥ 0.07", SURE_ALARM)
    assert (sure.action, sure.topic, sure.emergency_notice) == ("emergency", "urgence", None)
    not_understood = Understanding("ils habitent la maison voisine je ne pouvais pas ouvrir", None,
                                   "hors_mairie", 0.04, "fallback")
    alarm = classifier_alarm(not_understood, "classifier: 0.30 ≥ 0.07", 0.30)
    assert (alarm.action, alarm.topic) == ("emergency", "urgence")  # nothing else to go on with
    assert classifier_alarm(oriented(), None).emergency_notice is None  # no alarm, nothing added
