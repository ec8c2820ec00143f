"""The flow files: the demo commune is complete, and broken files are reported by file and line."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from callbot.cli import app
from callbot.dialog.flows import FlowError, load_flows
from callbot.vocabulary import topic_ids

from .conftest import FLOWS_DIR

CATALOGUE = {
    "horaires_contact": "horaires_mairie horaires_service adresse_acces contact_service",
    "identite": "cni_passeport_rdv cni_passeport_pieces cni_passeport_delais cni_passeport_mineur "
                "cni_passeport_perte_vol",
    "etat_civil": "acte_naissance acte_mariage acte_deces livret_famille declaration_naissance "
                  "changement_nom_prenom reconnaissance_enfant",
    "mariage_pacs": "mariage pacs bapteme_civil",
    "deces_funeraire": "declaration_deces cimetiere_concession",
    "elections": "inscription_listes procuration bureau_vote",
    "recensement_citoyen": "recensement_16_ans",
    "urbanisme": "permis_construire declaration_prealable plu_cadastre_certificat",
    "ecole_enfance": "inscription_scolaire cantine_periscolaire creche_centre_loisirs",
    "dechets_proprete": "collecte_ordures encombrants decheterie bacs_poubelle",
    "voirie_signalement": "signalement_voirie occupation_domaine_public",
    "social_solidarite": "ccas_aides logement_social",
    "animaux": "chien_dangereux animal_errant",
    "vie_associative_salles": "location_salle associations culture_sport",
    "police_tranquillite": "police_municipale bruit_voisinage objets_trouves",
    "fiscalite_locale": "taxes_locales",
    "hors_mairie": "impots_revenu carte_grise_permis caf_aides prefecture_titre_sejour travail_emploi",
    "parler_agent": "parler_agent",
    "urgence": "urgence",
}
runner = CliRunner()


def test_demo_commune_has_the_whole_catalogue(demo_flows):
    by_id = {i.id: i for i in demo_flows.intents}
    for topic, ids in CATALOGUE.items():
        for intent_id in ids.split():
            assert by_id[intent_id].topic == topic, intent_id
    for control in ("oui", "non", "repeter", "au_revoir", "merci"):
        assert by_id[control].topic is None
    assert len(demo_flows.intents) >= 40
    assert {i.topic for i in demo_flows.intents if i.topic} == set(topic_ids())
    assert all(len(i.examples) >= 12 for i in demo_flows.intents)
    assert demo_flows.commune.fictional
    # What the NLU engineer builds from.
    assert "passeport" in demo_flows.slot_types["document"]
    assert isinstance(demo_flows.nlu_thresholds, dict)


def _broken_copy(tmp_path: Path, file: str, old: str, new: str) -> Path:
    target = tmp_path / "flows"
    shutil.copytree(FLOWS_DIR, target)
    path = target / file
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    return target


def _line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def test_unknown_topic_is_reported_with_file_line_and_field(tmp_path):
    flows = _broken_copy(tmp_path, "intents/urbanisme.yaml", "topic: urbanisme", "topic: urbanism")
    with pytest.raises(FlowError) as err:
        load_flows(flows)
    line = _line_of(flows / "intents/urbanisme.yaml", "topic: urbanism")
    assert any(e.startswith(f"intents/urbanisme.yaml:{line}: intents.0.topic:") and "urbanism" in e
               for e in err.value.errors), err.value.errors


def test_bad_opening_hours_and_typo_key_are_both_reported(tmp_path):
    flows = _broken_copy(tmp_path, "commune.yaml", 'samedi: ["09:00-12:00"]', 'samedi: ["12:00-09:00"]')
    path = flows / "commune.yaml"
    path.write_text(path.read_text().replace("max_misses: 3", "max_mises: 3"))
    with pytest.raises(FlowError) as err:
        load_flows(flows)
    errors = "\n".join(err.value.errors)
    assert f"commune.yaml:{_line_of(path, '12:00-09:00')}: commune.services.mairie.hours" in errors
    assert f"commune.yaml:{_line_of(path, 'max_mises')}: settings.max_mises:" in errors


def test_answer_variable_with_unknown_service_is_rejected(tmp_path):
    flows = _broken_copy(tmp_path, "intents/vie_quotidienne.yaml", "{aujourdhui.decheterie}",
                         "{aujourdhui.piscine}")
    with pytest.raises(FlowError) as err:
        load_flows(flows)
    assert any("intents.decheterie.answer" in e and "piscine" in e for e in err.value.errors)


def test_service_slot_values_must_be_services(tmp_path):
    flows = _broken_copy(tmp_path, "slots.yaml", "    mediatheque:", "    piscine:")
    with pytest.raises(FlowError) as err:
        load_flows(flows)
    line = _line_of(flows / "slots.yaml", "piscine:")
    errors = "\n".join(err.value.errors)
    assert f"slots.yaml:{line}: slot_types.service.piscine: n'est pas un service" in errors


def test_too_few_examples_and_yaml_syntax_errors(tmp_path):
    flows = tmp_path / "flows"
    shutil.copytree(FLOWS_DIR, flows)
    (flows / "intents" / "extra.yaml").write_text(
        "intents:\n  - id: piscine\n    topic: vie_associative_salles\n    examples: [la piscine]\n"
        "    answer: La piscine est fermée.\n")
    (flows / "intents" / "broken.yaml").write_text("intents:\n  - id: x\n    examples: [a, b\n")
    with pytest.raises(FlowError) as err:
        load_flows(flows)
    errors = err.value.errors
    assert any(e.startswith("intents/extra.yaml:4: intents.0.examples:") and "12" in e for e in errors)
    assert any(e.startswith("intents/broken.yaml:") and "syntaxe YAML" in e for e in errors)


def test_cli_check_ok_on_demo_and_errors_on_broken(tmp_path):
    ok = runner.invoke(app, ["flows", "check", str(FLOWS_DIR)])
    assert ok.exit_code == 0, ok.output
    assert re.search(r"OK .* (\d+) intentions, 19 thèmes", ok.output)

    flows = _broken_copy(tmp_path, "intents/identite.yaml", "topic: identite", "topic: papiers")
    bad = runner.invoke(app, ["flows", "check", str(flows)])
    assert bad.exit_code == 1
    line = _line_of(flows / "intents/identite.yaml", "topic: papiers")
    assert f"intents/identite.yaml:{line}: intents.0.topic:" in bad.output


def test_missing_directory_is_a_clear_error(tmp_path):
    result = runner.invoke(app, ["flows", "check", str(tmp_path / "nope")])
    assert result.exit_code == 1
    assert "introuvable" in result.output


def test_misspelt_dialog_node_is_reported(tmp_path):
    flows = _broken_copy(tmp_path, "commune.yaml", "    callback_number: {", "    callback_numbr: {")
    with pytest.raises(FlowError) as err:
        load_flows(flows)
    line = _line_of(flows / "commune.yaml", "callback_numbr")
    assert any(e.startswith(f"commune.yaml:{line}: settings.nodes.callback_numbr:")
               and "nœud inconnu 'callback_numbr'" in e for e in err.value.errors), err.value.errors
