from callbot.dialog.noise import asr_like, asr_noise

SENTENCE = "bonjour je voudrais prendre rendez-vous pour refaire la carte d'identité de mon fils"


def test_noise_is_deterministic_and_changes_about_the_rate() -> None:
    a = asr_noise(SENTENCE, 0.3, seed=7)
    assert a == asr_noise(SENTENCE, 0.3, seed=7)
    assert a != asr_like(SENTENCE)
    assert asr_noise(SENTENCE, 0.3, seed=8) != a or asr_noise(SENTENCE, 0.3, seed=9) != a


def test_zero_noise_only_makes_text_recogniser_like() -> None:
    assert asr_noise("Bonjour, Madame !", 0.0) == "bonjour madame"
