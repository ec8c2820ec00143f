from datetime import date
from types import SimpleNamespace

import pytest

from callbot.dialog.nlu import Nlu, Thresholds

from .conftest import SLOT_TYPES, catalogue


def test_clear_request_is_answered_with_topic_and_slots(nlu: Nlu) -> None:
    u = nlu.understand("euh bonjour la mairie elle ouvre à quelle heure demain", today=date(2026, 11, 23))
    assert (u.intent, u.topic, u.action) == ("horaires_mairie", "horaires_contact", "answer")
    assert u.confidence >= nlu.thresholds.answer
    assert u.slots["date"] == "2026-11-24"
    assert u.alternatives[0]["intent"] == "horaires_mairie" and len(u.alternatives) == 3


def test_misheard_words_still_match(nlu: Nlu) -> None:
    u = nlu.understand("les poubel passe quel jour le camion")
    assert u.intent == "collecte_ordures"


def test_off_topic_falls_back_with_a_reason(nlu: Nlu) -> None:
    for said in ("je voudrais commander une pizza", "il fait beau aujourd'hui", "blablabla"):
        u = nlu.understand(said)
        assert u.action == "fallback" and u.intent is None, (said, u)
        assert u.fallback_reason


def test_empty_and_hesitation_only(nlu: Nlu) -> None:
    for said in ("", "   ", "euh hum"):
        u = nlu.understand(said)
        assert (u.action, u.fallback_reason) == ("fallback", "empty")


def test_special_topics_get_their_action(nlu: Nlu) -> None:
    assert nlu.understand("au secours il y a le feu").action == "emergency"
    assert nlu.understand("passez moi un conseiller").action == "transfer"
    u = nlu.understand("j'ai une question sur mon impôt sur le revenu")
    assert (u.topic, u.action) == ("hors_mairie", "out_of_scope")


def test_two_close_intents_ask_to_clarify(nlu: Nlu) -> None:
    u = nlu.understand("je voudrais une copie d'acte")
    assert u.action == "clarify"
    assert {a["intent"] for a in u.alternatives[:2]} == {"acte_naissance", "acte_mariage"}
    assert u.fallback_reason.startswith("ambiguous: ")


def test_thresholds_decide_answer_confirm_fallback() -> None:
    said = "extrait de naissance"
    sure = Nlu(catalogue(), thresholds={"answer": 0.01, "confirm": 0.0}).understand(said)
    assert sure.action == "answer"
    unsure = Nlu(catalogue(), thresholds={"answer": 1.0, "confirm": 0.01}).understand(said)
    assert unsure.action == "confirm" and "answer threshold 1.00" in unsure.fallback_reason
    refused = Nlu(catalogue(), thresholds={"answer": 1.0, "confirm": 1.0}).understand(said)
    assert refused.action == "fallback" and "confirm threshold" in refused.fallback_reason


def test_unknown_threshold_name_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="seuils NLU inconnus : answr"):
        Nlu(catalogue(), thresholds={"answr": 0.5})


def test_from_flows_uses_intents_slot_types_and_overrides() -> None:
    flows = SimpleNamespace(intents=catalogue(), slot_types=SLOT_TYPES, nlu_thresholds={"answer": 0.9})
    n = Nlu.from_flows(flows, topics=False)  # (the topic layer of these few intents: test_topics.py)
    assert n.thresholds == Thresholds(answer=0.9)
    assert n.understand("copie de mon acte de naissance pour mon passeport").slots["document"] == "passeport"


def test_expect_yes_no_and_digits(nlu: Nlu) -> None:
    assert nlu.understand("ouais exactement", expect="yes_no").intent == "oui"
    assert nlu.understand("non pas du tout", expect="yes_no").intent == "non"
    u = nlu.understand("zéro six douze trente quatre cinquante six", expect="digits")
    assert (u.action, u.slots["digits"]) == ("slot", "06123456")
    assert nlu.understand("au secours il y a le feu", expect="digits").action == "emergency"


def test_understanding_is_fast_enough(nlu: Nlu) -> None:
    import time

    start = time.perf_counter()
    for _ in range(50):
        nlu.understand("je voudrais savoir quel jour passe le camion des poubelles dans ma rue")
    assert (time.perf_counter() - start) / 50 < 0.05  # generous: real numbers are in bench/


def test_long_rambling_request_is_understood_and_garbage_is_cheap(nlu: Nlu) -> None:
    import time

    rambling = ("oui bonjour madame alors voilà euh je vous appelle parce que euh ma voisine m'a dit "
                "que euh bon je sais pas trop mais en fait je voudrais savoir quel jour passe le camion "
                "des poubelles chez nous parce que la semaine dernière il est pas passé")
    assert nlu.understand(rambling).intent == "collecte_ordures"
    start = time.perf_counter()
    u = nlu.understand("poubelle " * 3000)
    assert time.perf_counter() - start < 0.5 and u.text.startswith("poubelle")
