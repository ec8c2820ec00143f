"""The simulated phone notices when bot speech stops and resumes (the load benchmark's gaps)."""

from __future__ import annotations

from callbot.devtools.simulator.playout import Playout

FRAME = b"\xff" * 160  # 20 ms of mu-law


def test_audio_arriving_after_playback_ran_dry_is_a_dry_spell() -> None:
    p = Playout()
    p.add_media(FRAME, 0.0)
    p.add_media(FRAME, 0.01)  # queued behind the first: plays 0.02 → 0.04
    p.add_media(FRAME, 0.03)  # still in time
    assert p.dry_spells == []
    p.add_media(FRAME, 0.25)  # playback ended at 0.06: 190 ms of silence the caller heard
    ((dry, back),) = p.dry_spells
    assert round(dry, 3) == 0.06 and back == 0.25
