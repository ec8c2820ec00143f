import pytest

from callbot.dialog.normalize import fold, normalize


@pytest.mark.parametrize(("said", "expected"), [
    ("Euh bonjour madame, l'acte de naissance s'il vous plaît", "acte de naissance"),
    ("zéro six douze trente quatre cinquante six", "06 12 34 56"),
    ("à quatorze heures trente", "a 14 heures 30"),
    ("le dix-sept mars", "le 17 mars"),
    ("rendez-vous pour ma carte d'identité", "rendezvous pour ma carte identite"),
    ("aujourd'hui", "aujourdhui"),
    ("le C.C.A.S. ou la c n i", "le ccas ou la cni"),  # spelled acronyms survive elision removal
    ("hum ben euh", ""),  # nothing but hesitation: nothing was said
    ("", ""),
])
def test_normalize_spoken_french(said: str, expected: str) -> None:
    assert normalize(said) == expected


def test_rendezvous_is_one_token_in_every_spelling() -> None:
    assert {normalize(s) for s in ("rendez-vous", "rendez vous", "rdv")} == {"rendezvous"}


def test_fold_removes_accents_and_ligatures() -> None:
    assert fold("Œuvre Déchèterie ÇA") == "oeuvre decheterie ca"
