"""A small catalogue of our own, so NLU tests do not depend on the demo commune's wording."""

from __future__ import annotations

import pytest

from callbot.dialog.nlu import IntentSpec, Nlu

CATALOGUE = {
    ("horaires_mairie", "horaires_contact"): [
        "quels sont les horaires de la mairie", "a quelle heure ouvre la mairie",
        "la mairie ferme a quelle heure", "vous etes ouverts le samedi",
        "est ce que la mairie est ouverte demain", "heures d ouverture de la mairie",
    ],
    ("acte_naissance", "etat_civil"): [
        "je voudrais un acte de naissance", "copie d acte de naissance",
        "extrait de naissance pour mon dossier", "obtenir mon acte de naissance",
    ],
    ("acte_mariage", "etat_civil"): [
        "je voudrais un acte de mariage", "copie d acte de mariage",
        "extrait de mariage pour le notaire", "obtenir notre acte de mariage",
    ],
    ("collecte_ordures", "dechets_proprete"): [
        "quel jour passe le camion poubelle", "jours de collecte des ordures",
        "ramassage des poubelles", "quand sortir les poubelles",
    ],
    ("impots_revenu", "hors_mairie"): [
        "question sur ma declaration d impots", "mon avis d impot sur le revenu",
        "le prelevement a la source", "declarer mes revenus",
    ],
    ("parler_agent", "parler_agent"): [
        "je voudrais parler a quelqu un", "passez moi un conseiller", "un agent s il vous plait",
        "je veux parler a une personne",
    ],
    ("urgence", "urgence"): [
        "c est une urgence", "il y a le feu", "quelqu un a fait un malaise", "au secours",
    ],
    ("oui", None): ["oui", "oui c est ca", "tout a fait", "exactement", "d accord"],
    ("non", None): ["non", "non merci", "pas du tout", "non c est pas ca"],
}


def catalogue() -> list[IntentSpec]:
    return [IntentSpec(i, t, ex) for (i, t), ex in CATALOGUE.items()]


SLOT_TYPES = {"document": {"passeport": ["passeport"], "cni": ["carte d identite", "carte identite"]}}


@pytest.fixture(scope="session")
def nlu() -> Nlu:
    return Nlu(catalogue(), SLOT_TYPES)
