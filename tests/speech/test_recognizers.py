"""The recogniser pool: real Vosk recognisers (Korean test model) reused from call to call."""

from __future__ import annotations

import json
import time

from callbot.speech.recognizers import RecognizerPool, recognizer_pool
from callbot.speech.vosk_stt import VoskSTTService
from tests.speech.conftest import PHONE, run, silence
from tests.speech.test_vosk_stt import said, transcripts


def test_a_calls_recogniser_serves_the_next_call(vosk_model, speech_8k) -> None:  # noqa: ANN001
    from pipecat.tests.utils import run_test

    pool = recognizer_pool(vosk_model)
    finals, cold = [], []
    for _ in range(2):
        down, _ = run(run_test(VoskSTTService(vosk_model), frames_to_send=said(speech_8k),
                               pipeline_params=PHONE))
        finals.append(transcripts(down))
        cold.append(pool.cold_takes)
        # The call's Vosk thread gives the recogniser back once its last job is done.
        deadline = time.monotonic() + 10
        while pool.idle() < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert pool.idle() >= 1
    assert all(len(f) == 1 and f[0].text for f in finals)  # both calls heard their caller
    assert cold[1] == cold[0]  # the second call got a recogniser already used: no cold start


def test_nothing_of_the_previous_call_reaches_the_next(vosk_model, speech_8k) -> None:  # noqa: ANN001
    # The caller hung up mid-sentence: their audio was never finalised.
    pool = RecognizerPool(vosk_model)
    rec = pool.take()
    rec.AcceptWaveform(speech_8k[: len(speech_8k) // 2])
    assert json.loads(rec.PartialResult())["partial"]  # words were pending
    pool.give(None, rec)

    again = pool.take()
    assert again is rec  # reused...
    again.AcceptWaveform(silence(1.0))
    assert json.loads(again.FinalResult())["text"] == ""  # ...with none of those words


def test_grammars_and_open_vocabulary_are_kept_apart(vosk_model) -> None:  # noqa: ANN001
    pool = RecognizerPool(vosk_model)
    open_rec = pool.take()
    pool.give(None, open_rec)
    yes_no = pool.take(["oui", "non", "[unk]"])
    assert yes_no is not open_rec
    pool.give(["oui", "non", "[unk]"], yes_no)
    assert pool.take(["oui", "non", "[unk]"]) is yes_no
    assert pool.take() is open_rec


def test_a_spare_is_warmed_in_the_background_when_none_is_left(vosk_model, speech_8k) -> None:  # noqa: ANN001
    pool = RecognizerPool(vosk_model)
    pool.set_warm_audio(lambda: [speech_8k])
    pool.warm(1)
    assert (pool.idle(), pool.warmed) == (1, 1)

    pool.take()  # the call in progress has the warm one; the next call needs another
    deadline = time.monotonic() + 30
    while pool.idle() < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (pool.idle(), pool.warmed, pool.built) == (1, 2, 2)


def test_spares_follow_the_calls_arriving(vosk_model, speech_8k) -> None:  # noqa: ANN001
    """Three calls arrive together and get cold recognisers; the pool then warms as many spares,
    so the next three calls all start warm."""
    pool = RecognizerPool(vosk_model, arrival_window=300)  # however slow this machine warms them
    pool.set_warm_audio(lambda: [speech_8k[:8000]])  # half a second of speech: a quick warm-up
    first = [pool.take() for _ in range(3)]
    assert pool.cold_takes == 3
    deadline = time.monotonic() + 90  # a shared, busy CI machine
    while pool.idle() < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pool.idle() == 3
    second = [pool.take() for _ in range(3)]
    assert pool.cold_takes == 3  # none of the next wave started cold
    assert not set(map(id, first)) & set(map(id, second))
    assert pool.in_use == 6


def test_a_recogniser_retires_after_its_calls_and_idle_ones_are_bounded(vosk_model) -> None:  # noqa: ANN001
    pool = RecognizerPool(vosk_model, keep=2, retire_after=2)  # its expanded graph grows call after call
    rec = pool.take()
    pool.give(None, rec)
    assert pool.take() is rec  # its first call: kept warm
    pool.give(None, rec)
    assert pool.retired == 1 and pool.idle() == 0  # its second: freed, not served again
    assert pool.take() is not rec

    wave = [pool.take() for _ in range(3)]  # a burst ends: only `keep` stay idle
    for r in wave:
        pool.give(None, r)
    assert pool.idle() == 2 and pool.retired == 2


def test_callers_starting_together_each_get_a_warm_recogniser(vosk_model, speech_8k) -> None:  # noqa: ANN001
    """CALLBOT_ASR_READY_RECOGNIZERS: the pool warms that many in the background before any
    caller talks, so a burst of callers starting in the same second finds none cold, and a spare
    is still ready while they all talk."""
    pool = RecognizerPool(vosk_model)
    pool.set_warm_audio(lambda: [speech_8k[:8000]])
    pool.set_spares(3)
    deadline = time.monotonic() + 90  # a shared, busy CI machine
    while pool.idle() < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (pool.idle(), pool.warmed) == (3, 3)
    burst = [pool.take() for _ in range(3)]
    assert pool.cold_takes == 0  # every caller of the burst decodes warm
    while pool.idle() < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pool.idle() == 1  # the next caller too, without keeping a second full set
    for rec in burst:
        pool.give(None, rec)
    assert pool.idle() == 4 and pool.in_use == 0


def test_a_turn_starting_while_many_are_decoded_uses_the_narrower_search(vosk_model, speech_8k) -> None:  # noqa: ANN001
    """CALLBOT_ASR_PROFILE=adaptive: past `busy_turns` turns being decoded, a new caller's turn is
    decoded by the same model with the `fast` search; it still hears the caller."""
    from pipecat.tests.utils import run_test

    from callbot.speech.decoding_profile import PROFILES, profiled_model_dir
    from callbot.speech.vosk_stt import load_vosk_model
    from tests.conftest import vosk_ko_model

    busy_model = load_vosk_model(profiled_model_dir(vosk_ko_model(), PROFILES["fast"]))
    assert busy_model is not vosk_model
    main, busy = recognizer_pool(vosk_model), recognizer_pool(busy_model)

    def one_turn() -> list:
        down, _ = run(run_test(VoskSTTService(vosk_model, busy_model=busy_model, busy_turns=1),
                               frames_to_send=said(speech_8k), pipeline_params=PHONE))
        return transcripts(down)

    other_call = main.take()  # another caller is talking: the process is "busy" from 1 turn
    try:
        before = busy.built
        heard = one_turn()
        assert len(heard) == 1 and heard[0].text
        assert heard[0].result["search"] == "fast"  # recorded with the turn's timing
        assert busy.built == before + 1  # the turn leased from the narrower search's pool
    finally:
        main.give(None, other_call)
    deadline = time.monotonic() + 10
    while busy.in_use and time.monotonic() < deadline:
        time.sleep(0.02)
    busy_built = busy.built
    alone = one_turn()  # alone again: the model's own search
    assert alone and alone[0].result["search"] == "model"
    assert busy.built == busy_built and busy.idle() == 1

    # An operator sees both pools on /metrics, the narrower search's under its own label.
    from prometheus_client.parser import text_string_to_metric_families

    from callbot import metrics

    previous = dict(metrics.WATCHED.pools)
    metrics.watch(pools={"model": main, "fast": busy})
    try:
        body, _ = metrics.exposition()
    finally:
        metrics.WATCHED.pools = previous
    scraped = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(body.decode()) for s in family.samples}
    assert scraped[("callbot_recognizers_built_total", (("search", "fast"),))] == busy.built >= 1
    assert scraped[("callbot_recognizers_idle", (("search", "fast"),))] == busy.idle() == 1
    assert scraped[("callbot_recognizers_in_use", (("search", "model"),))] == main.in_use
