"""`callbot nlu` and `callbot eval nlu` as a script or an operator runs them (contract.md)."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CALLBOT = [sys.executable, "-m", "callbot.cli"]
ENV = {**os.environ, "CALLBOT_FLOWS": str(ROOT / "flows"), "PYTHONIOENCODING": "utf-8"}
KEYS = {"text", "intent", "topic", "confidence", "action"}


def test_single_utterance_prints_one_json_object() -> None:
    out = subprocess.run([*CALLBOT, "nlu", "bonjour je voudrais un acte de naissance"], env=ENV,
                         capture_output=True, text=True, timeout=60, check=True).stdout
    obj = json.loads(out)
    assert obj.keys() >= KEYS
    assert (obj["intent"], obj["topic"]) == ("acte_naissance", "etat_civil")
    assert 0 <= obj["confidence"] <= 1


def test_real_emergency_wordings_get_the_emergency_action() -> None:
    # People's words from the emergency development files (public pages), one a line, as an operator
    # would pipe them: each gets the emergency action and the urgence topic.
    said = ["Mourir, c'est tout ce que je veux",
            "Le bébé sue à grosses gouttes dans la voiture, il est comateux",
            "Il est complètement ivre, il jette des pierres sur le logement des voisines",
            "L'eau a atteint deux mètres cinquante de hauteur dans la maison"]
    out = subprocess.run([*CALLBOT, "nlu"], input="\n".join(said) + "\n", env=ENV, capture_output=True,
                         text=True, timeout=60, check=True).stdout
    objs = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert [(o["action"], o["topic"]) for o in objs] == [("emergency", "urgence")] * len(said), objs
    assert all(o.keys() >= KEYS for o in objs)


def _reader(stream, lines: queue.Queue) -> None:  # noqa: ANN001
    for line in iter(stream.readline, b""):
        lines.put(line)


def test_jsonl_streams_in_order_and_flushes_each_line() -> None:
    proc = subprocess.Popen([*CALLBOT, "nlu"], env=ENV, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=_reader, args=(proc.stdout, lines), daemon=True).start()
    try:
        # Each answer must arrive before the next question is sent: proves per-line flushing.
        said = ["les poubelles passent quel jour", "", "je voudrais commander une pizza",
                "c'est où le bureau de vote"]
        got = []
        for text in said:
            proc.stdin.write(text.encode() + b"\n")
            proc.stdin.flush()
            got.append(json.loads(lines.get(timeout=60)))
        # Undecodable bytes and a CRLF line still get their answer.
        proc.stdin.write(b"\xff\xfe pour mon passeport\r\n")
        proc.stdin.close()
        got.append(json.loads(lines.get(timeout=60)))
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
    assert [g["text"] for g in got[:4]] == said
    assert all(g.keys() >= KEYS for g in got)
    assert got[0]["topic"] == "dechets_proprete"
    assert (got[1]["action"], got[1]["intent"]) == ("fallback", None)
    assert got[2]["action"] == "fallback"
    assert got[3]["topic"] == "elections"
    assert got[4]["topic"] == "identite" and got[4]["text"].endswith("pour mon passeport")


def test_eval_command_prints_the_metrics(tmp_path: Path) -> None:
    data = tmp_path / "mini.jsonl"
    data.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in [
        {"text": "quand passent les poubelles", "intent": "collecte_ordures", "topic": "dechets_proprete"},
        {"text": "je veux un extrait d'acte de naissance", "intent": "acte_naissance", "topic": "etat_civil"},
        {"text": "je voudrais commander une pizza", "intent": None, "topic": None},
    ]) + "\n", encoding="utf-8")
    out = subprocess.run([*CALLBOT, "eval", "nlu", "--data", str(data), "--json", "--asr-noise", "0.25",
                          "--seed", "3"], env=ENV, capture_output=True, text=True, timeout=60, check=True)
    m = json.loads(out.stdout)
    assert m["utterances"] == 3 and m["asr_noise"] == 0.25
    for key in ("topic_accuracy", "intent_accuracy", "confident_wrong_rate", "out_of_scope_recall",
                "ms_per_utterance", "per_intent", "confusions"):
        assert key in m
    assert m["per_intent"]["collecte_ordures"]["support"] == 1
    text = subprocess.run([*CALLBOT, "eval", "nlu", "--data", str(data)], env=ENV, capture_output=True,
                          text=True, timeout=60, check=True).stdout
    assert "exactitude intention" in text and "rappel hors périmètre" in text


def test_eval_command_rejects_a_broken_file(tmp_path: Path) -> None:
    data = tmp_path / "bad.jsonl"
    data.write_text('{"text": "ok", "intent": null}\nnot json\n', encoding="utf-8")
    r = subprocess.run([*CALLBOT, "eval", "nlu", "--data", str(data)], env=ENV, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 2 and "bad.jsonl:2" in r.stderr


def test_thresholds_in_effect_are_listed_and_flow_overrides_apply(tmp_path: Path) -> None:
    import shutil

    flows = tmp_path / "flows"
    shutil.copytree(ROOT / "flows", flows)
    (flows / "zz_seuils.yaml").write_text("nlu_thresholds: {answer: 0.9}\n", encoding="utf-8")
    out = subprocess.run([*CALLBOT, "nlu", "--thresholds", "--flows", str(flows)], env=ENV,
                         capture_output=True, text=True, timeout=60, check=True).stdout
    shown = json.loads(out)
    assert shown["answer"] == 0.9 and {"confirm", "clarify_margin", "ood_guard"} <= shown.keys()
