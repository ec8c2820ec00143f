"""The dialog state machine, through the Conversation API the phone pipeline uses."""

from __future__ import annotations

from dataclasses import replace

import pytest

from callbot.dialog.engine import DialogEngine
from callbot.dialog.types import Understanding

OPEN = "2026-11-24T10:00"  # Tuesday morning, agents on duty
CLOSED = "2026-11-22T11:00"  # Sunday


def said(reply) -> str:
    return " ".join(p.text for p in reply.prompts)


def started(engine_at, when: str = OPEN, caller: str | None = None):
    conv = engine_at(when).new_conversation(caller=caller)
    conv.start()
    return conv


class ScriptedNlu:
    """Returns fixed readings, to drive states the real NLU reaches only on borderline input."""

    def __init__(self, real, script: dict[str, dict]) -> None:
        self.real, self.script = real, script

    def understand(self, text, expect="speech", today=None):
        if text in self.script:
            return Understanding(text=text, normalized=text, **self.script[text])
        return self.real.understand(text, expect=expect, today=today)


def scripted_engine(demo_flows, demo_nlu, script) -> DialogEngine:
    from .conftest import at

    now = at(OPEN)
    return DialogEngine(demo_flows, ScriptedNlu(demo_nlu, script), lambda: now)


def test_greeting_discloses_an_automatic_assistant_that_cannot_be_cut(engine_at):
    reply = engine_at(OPEN).new_conversation().start()
    assert reply.action == "greet"
    hello, disclosure, last = reply.prompts
    assert "Saint-Démo-sur-Loire" in hello.text and "assistant automatique" in disclosure.text
    assert hello.interruptible is False and disclosure.interruptible is False
    assert last.text == "Quelle est votre question ?" and last.interruptible  # the caller may cut in
    assert reply.end is None and reply.expect == "speech"


def test_answer_then_anything_else_then_goodbye_resolved(engine_at):
    conv = started(engine_at)
    reply = conv.hear("quels documents faut-il apporter pour le passeport")
    assert reply.understanding.intent == "cni_passeport_pieces"
    assert reply.understanding.topic == "identite" and reply.understanding.action == "answer"
    assert "photo d'identité" in said(reply) and said(reply).endswith("Avez-vous une autre question ?")
    assert said(reply).startswith("Pour un passeport,")  # the variant for the document asked about
    bye = conv.hear("non merci")
    assert bye.end == "hangup" and bye.outcome == "resolved"
    assert "Au revoir" in said(bye)
    assert conv.topic == "identite" and conv.intent == "cni_passeport_pieces"
    # The call is over: further events say nothing and keep the end.
    assert conv.hear("allo").prompts == [] and conv.silence().end == "hangup"


def test_minor_passport_appointment_summary_for_the_agent(engine_at):
    conv = started(engine_at)
    reply = conv.hear("c'est pour faire le passeport de ma fille de douze ans")
    assert reply.understanding.intent == "cni_passeport_mineur"
    assert reply.expect == "yes_no" and "prendre rendez-vous" in said(reply)
    transfer = conv.hear("oui")
    assert transfer.end == "transfer" and transfer.outcome == "transferred"
    assert transfer.transfer.kind == "queue" and transfer.transfer.target == "accueil"
    assert transfer.transfer.reason == "topic"
    assert conv.summary.startswith("Demande de titre d'identité pour un mineur")
    assert "souhaite un rendez-vous" in conv.summary


def test_medium_confidence_is_confirmed_first(demo_flows, demo_nlu):
    engine = scripted_engine(demo_flows, demo_nlu, {"euh les heures": dict(
        intent="horaires_mairie", topic="horaires_contact", confidence=0.45, action="confirm")})
    conv = engine.new_conversation()
    conv.start()
    ask = conv.hear("euh les heures")
    assert ask.action == "confirm" and ask.expect == "yes_no"
    assert said(ask) == "Vous voulez connaître les horaires de la mairie, c'est bien ça ?"
    yes = conv.hear("oui")
    assert yes.understanding.intent == "horaires_mairie" and "ouverte" in said(yes)
    # The same words again: the caller wants the answer again, not the same confirmation.
    again = conv.hear("euh les heures")
    assert again.action == "answer" and said(again).startswith(said(yes).split(".")[0])
    other = scripted_engine(demo_flows, demo_nlu, {"euh les heures": dict(
        intent="horaires_mairie", topic="horaires_contact", confidence=0.45, action="confirm")})
    fresh = other.new_conversation()
    fresh.start()
    fresh.hear("euh les heures")
    no = fresh.hear("non")
    assert no.end is None and "reformuler" in said(no)


def test_two_close_intents_are_clarified(demo_flows, demo_nlu):
    alts = [{"intent": "acte_naissance", "topic": "etat_civil", "confidence": 0.41},
            {"intent": "declaration_naissance", "topic": "etat_civil", "confidence": 0.40}]
    engine = scripted_engine(demo_flows, demo_nlu, {"la naissance": dict(
        intent="acte_naissance", topic="etat_civil", confidence=0.41, action="clarify", alternatives=alts)})
    conv = engine.new_conversation()
    conv.start()
    ask = conv.hear("la naissance")
    assert ask.action == "clarify"
    assert said(ask) == "Vous voulez obtenir un acte de naissance, ou plutôt déclarer une naissance ?"
    pick = conv.hear("la deuxième")
    assert pick.understanding.intent == "declaration_naissance"
    assert "cinq jours" in said(pick)


def test_a_caller_who_says_goodbye_instead_of_choosing_is_let_go(engine_at):
    conv = started(engine_at)
    ask = conv.hear("comment faire une carte d'identité")
    assert ask.action == "clarify"  # appointment or loss: the bot asks which
    bye = conv.hear("non merci au revoir")
    assert bye.end == "hangup" and "reformuler" not in said(bye)
    assert said(bye) == engine_at(OPEN).flows.prompts.goodbye


def test_clarification_keeps_what_the_first_question_said(demo_flows, demo_nlu):
    alts = [{"intent": "cni_passeport_mineur", "topic": "identite", "confidence": 0.42},
            {"intent": "cni_passeport_pieces", "topic": "identite", "confidence": 0.41}]
    engine = scripted_engine(demo_flows, demo_nlu, {"papiers carte": dict(
        intent="cni_passeport_mineur", topic="identite", confidence=0.42, action="clarify",
        alternatives=alts, slots={"document": "cni"})})
    conv = engine.new_conversation()
    conv.start()
    assert conv.hear("papiers carte").action == "clarify"
    pick = conv.hear("le deuxième")
    assert pick.understanding.intent == "cni_passeport_pieces"
    assert said(pick).startswith("Pour une carte d'identité,")


def test_missing_slot_is_asked_then_used(engine_at):
    conv = started(engine_at)
    ask = conv.hear("je voudrais le numéro d'un service")
    assert ask.action == "slot" and "Quel service voulez-vous joindre" in said(ask)
    reply = conv.hear("le ccas")
    assert reply.understanding.intent == "contact_service"
    assert "centre communal d'action sociale au 01 99 00 01 04" in said(reply)


def test_three_misunderstandings_transfer_during_opening_hours(engine_at):
    conv = started(engine_at)
    first = conv.hear("zorglub blablabla")
    assert first.action == "fallback" and first.understanding.fallback_reason
    second = conv.hear("gnagnagna schmilblick")
    assert "taper zéro" in said(second)
    third = conv.hear("patati patata")
    assert third.end == "transfer" and third.transfer.reason == "misunderstanding"
    assert third.outcome == "transferred"


def test_silences_outside_hours_lead_to_a_voice_callback(engine_at):
    conv = started(engine_at, CLOSED, caller="+33611111111")
    assert "ne vous entends pas" in said(conv.silence())
    conv.silence()
    offer = conv.silence()
    assert offer.transfer is None and offer.end is None and offer.expect == "yes_no"
    assert "fermés" in said(offer) and "rappelle" in said(offer)
    ask = conv.hear("oui")
    assert ask.expect == "digits"
    reason = conv.hear("zéro six douze trente-quatre cinquante-six soixante-dix-huit")
    assert "motif" in said(reason)
    done = conv.hear("c'est pour mon permis de construire")
    assert done.end == "hangup" and done.outcome == "callback"
    assert done.callback.number == "0612345678"
    assert done.callback.reason == "c'est pour mon permis de construire"
    assert done.callback.topic == "urbanisme"
    assert "06 12 34 56 78" in said(done)
    # The confirmation repeats the caller's number: its audio must never enter the shared cache.
    assert all(p.private for p in done.prompts if "06 12" in p.text)
    assert not any(p.private for p in offer.prompts + ask.prompts)
    assert "rappel demandé" in conv.summary


def test_keypad_callback_number_with_star_and_bad_length(engine_at):
    conv = started(engine_at, CLOSED)
    offer = conv.dtmf("0")  # agent asked on a Sunday
    assert offer.action == "callback" and offer.end is None
    conv.dtmf("1")  # "1" = oui to the offer
    for key in "0612":
        assert conv.dtmf(key).prompts == []  # digits are collected silently ("0" is a digit here)
    assert "numéro" in said(conv.dtmf("*"))  # start again
    for key in "123":
        conv.dtmf(key)
    bad = conv.dtmf("#")
    assert bad.action == "fallback" and "dix chiffres" in said(bad)
    for key in "0699887766":
        last = conv.dtmf(key)
    assert "motif" in said(last)
    assert conv.dtmf("#").prompts == []  # the "#" after a complete number is harmless
    done = conv.silence()  # no reason given
    assert done.outcome == "callback" and done.callback.number == "0699887766"


def test_callback_declined_ends_without_agent(engine_at):
    conv = started(engine_at, "2026-11-24T21:00")
    offer = conv.hear("je voudrais parler à quelqu'un")
    assert offer.transfer is None and "fermés" in said(offer)
    end = conv.hear("non")
    assert end.end == "hangup" and end.outcome == "ended_no_agent"


def test_emergency_interrupts_any_step(engine_at):
    conv = started(engine_at)
    conv.hear("je voudrais le numéro d'un service")  # waiting for a slot
    reply = conv.hear("au secours mon voisin a fait un malaise")
    assert reply.action == "emergency" and reply.understanding.action == "emergency"
    text = said(reply)
    for number in ("15", "17", "18", "112"):
        assert f"le {number}" in text
    assert reply.prompts[0].interruptible is False
    assert conv.topic == "urgence"
    # The call goes on: a caller whose words only sounded like an emergency asks their question.
    assert reply.end is None and "pas une urgence" in said(reply)
    after = conv.hear("quels sont les horaires de la mairie")
    assert after.action == "answer" and after.understanding.intent == "horaires_mairie"


def test_emergency_then_hangup_ends_the_call(demo_flows, demo_nlu):  # noqa: ANN001
    from .conftest import at

    flows = replace(demo_flows, settings=demo_flows.settings.model_copy(update={"emergency_then": "hangup"}))
    conv = DialogEngine(flows, demo_nlu, lambda: at(OPEN)).new_conversation()
    conv.start()
    reply = conv.hear("au secours il y a le feu dans la maison")
    assert reply.action == "emergency" and "le 18" in said(reply) and "pas une urgence" not in said(reply)
    assert reply.end == "hangup"


def test_emergency_while_leaving_a_callback_number(engine_at):
    conv = started(engine_at, CLOSED)
    conv.dtmf("0")
    conv.hear("oui")
    reply = conv.hear("au secours il y a le feu dans la maison")
    assert reply.action == "emergency" and "le 18" in said(reply) and reply.callback is None


def test_repeat_says_the_last_thing_again(engine_at):
    conv = started(engine_at)
    answer = conv.hear("quel jour passent les poubelles")
    again = conv.hear("vous pouvez répéter")
    assert again.action == "repeat" and said(again) == said(answer)
    noise = conv.hear("  ")
    assert said(noise) == "Pouvez-vous répéter, s'il vous plaît ?" and noise.end is None
    assert said(conv.hear("pardon")) == said(answer)  # the noise did not replace what is repeated


def test_out_of_scope_says_who_handles_it_and_unrelated_talk_is_not_forced(engine_at):
    conv = started(engine_at)
    caf = conv.hear("j'ai une question sur mes allocations de la caf")
    assert caf.understanding.topic == "hors_mairie" and caf.action == "out_of_scope"
    assert "CAF" in said(caf) and "32 30" in said(caf)
    weather = conv.hear("quel temps va-t-il faire ce week-end à la plage")
    assert weather.action == "fallback" and weather.understanding.intent is None


def test_menu_digit_and_agent_digit(engine_at):
    conv = started(engine_at)
    menu = conv.dtmf("4")
    assert menu.understanding.intent == "collecte_ordures" and "bac jaune" in said(menu)
    agent = conv.dtmf("0")
    assert agent.end == "transfer" and agent.transfer.reason == "asked_agent"


def test_silence_after_an_answer_ends_politely(engine_at):
    conv = started(engine_at)
    conv.hear("quelle est l'adresse de la mairie")
    nudge = conv.silence()
    assert said(nudge) == "Avez-vous une autre question ?" and nudge.end is None
    bye = conv.silence()
    assert bye.end == "hangup" and bye.outcome == "resolved"


def test_satisfaction_note_when_enabled(demo_flows, demo_nlu):
    from .conftest import at

    flows = replace(demo_flows, satisfaction=demo_flows.satisfaction.model_copy(update={"enabled": True}))
    now = at(OPEN)
    conv = DialogEngine(flows, demo_nlu, lambda: now).new_conversation()
    conv.start()
    conv.hear("quelle est l'adresse de la mairie")
    ask = conv.hear("non merci au revoir")
    assert ask.end is None and ask.expect == "digits" and "1 à 5" in said(ask)
    assert said(ask) in DialogEngine(flows, demo_nlu, lambda: now).fixed_prompts()
    note = conv.dtmf("4")
    assert note.satisfaction == 4 and note.end == "hangup" and note.outcome == "resolved"


def test_a_failing_nlu_does_not_break_the_call(demo_flows):
    class Broken:
        def understand(self, text, expect="speech", today=None):
            raise RuntimeError("boom")

    from .conftest import at

    now = at(OPEN)
    conv = DialogEngine(demo_flows, Broken(), lambda: now).new_conversation()
    conv.start()
    reply = conv.hear("bonjour")
    assert reply.action == "fallback" and "nlu error" in reply.understanding.fallback_reason
    assert reply.end is None and reply.prompts


def test_a_fault_in_the_dialog_hands_the_caller_to_people(engine_at, monkeypatch):
    conv = started(engine_at)

    def broken(*args, **kwargs):
        raise KeyError("bug")

    monkeypatch.setattr(conv, "_on_understanding", broken)
    reply = conv.hear("quelle est l'adresse de la mairie")
    assert reply.end == "transfer" and reply.transfer.target == "accueil"
    assert reply.understanding.fallback_reason == "dialog error"
    assert reply.transfer.reason == "bot_fault"  # counted apart from misunderstandings
    assert conv.silence().prompts == []


@pytest.mark.parametrize("when", [OPEN, CLOSED])
def test_fixed_prompts_hold_static_texts_only(engine_at, when):
    prompts = engine_at(when).fixed_prompts()
    assert "Quelle est votre question ?" in prompts
    assert any("assistant automatique" in p for p in prompts)
    assert any(p.startswith("L'acte de naissance se demande") and "Saint-Démo-sur-Loire" in p
               for p in prompts)
    assert not any("aujourd'hui jusqu'à" in p or "{" in p for p in prompts)
    assert len(prompts) == len(set(prompts))


def test_every_prompt_of_a_scripted_call_is_pre_synthesised_except_live_answers(engine_at):
    """Replies are made of fixed texts, so the TTS cache covers them (only live data is synthesised)."""
    engine = engine_at(CLOSED)
    fixed = set(engine.fixed_prompts())
    conv = engine.new_conversation()
    replies = [conv.start(), conv.hear("je voudrais le numéro d'un service"), conv.hear("zorglub blablabla"),
               conv.hear("merci"), conv.silence(), conv.silence()]
    spoken = [p.text for r in replies for p in r.prompts]
    assert spoken and all(t in fixed for t in spoken), [t for t in spoken if t not in fixed]
    # A live answer: only its live sentence needs synthesis, the weekly hours are cached.
    hours = engine.new_conversation()
    hours.start()
    live, *rest = hours.hear("la mairie est ouverte aujourd'hui").prompts
    assert live.text.startswith("La mairie est fermée le dimanche") and live.text not in fixed
    assert rest and all(p.text in fixed for p in rest)
    assert rest[0].text == "Voulez-vous les horaires de toute la semaine ?"  # today first
    week = hours.hear("oui").prompts
    assert week[0].text.startswith("La mairie est ouverte du lundi") and all(p.text in fixed for p in week)


def test_words_that_make_a_complete_request_are_recognised_at_a_pause(engine_at):
    # Used to end the caller's turn when the acoustic turn model hears an unfinished sentence.
    conv = started(engine_at)
    assert conv.sounds_complete("quels sont les horaires de la mairie")
    assert conv.sounds_complete("je voudrais refaire ma carte d'identité")
    assert not conv.sounds_complete("quels sont les horaires de")  # the sentence goes on
    assert conv.sounds_complete("non merci au revoir")
    assert conv.sounds_complete("au revoir")
    assert conv.sounds_complete("vous pouvez répéter")
    assert conv.sounds_complete("comment faire une carte d'identité")  # the bot will ask which
    assert conv.sounds_complete("je veux parler à un agent")
    assert not conv.sounds_complete("je voudrais euh")
    assert not conv.sounds_complete("gnagnagna schmilblick")  # not understood: wait for more
    assert not conv.sounds_complete("")
    before = (conv.state, conv.expect, conv.summary)
    conv.sounds_complete("je veux parler à un agent")
    assert (conv.state, conv.expect, conv.summary) == before, "judging changes nothing"


def test_no_early_end_of_turn_while_the_caller_dictates_a_number(engine_at):
    conv = started(engine_at, CLOSED)
    conv.dtmf("0")  # an agent asked on a Sunday: a callback is offered
    assert conv.hear("oui").expect == "digits"
    assert not conv.sounds_complete("zéro six douze")


def test_replies_to_the_flows_examples_are_known_ahead_for_pre_synthesis(engine_at):
    # Spoken by the background warmer into the prompt cache: a clarification between two close
    # intents and today's live hours are then ready before the first caller needs them.
    texts = engine_at(OPEN).spoken_replies()
    assert any("ou plutôt" in t for t in texts)
    assert "La mairie est ouverte aujourd'hui jusqu'à midi, puis de 13 heures 30 à 17 heures." in texts
    assert not any("{" in t for t in texts)
    # A resident's own phrasing, not among the examples, gets a question already prepared.
    conv = started(engine_at)
    ask = conv.hear("comment faire une carte d'identité")
    assert ask.action == "clarify" and said(ask) in texts


def _hair_trigger(nlu):  # noqa: ANN001, ANN202
    """The same NLU with its learnt emergency classifier firing on any unsilenced words: what it
    does on wordings the project never saw ("la garderie elle ferme qd ?" read 0.13 ≥ 0.075)."""
    import copy

    sensitive = copy.copy(nlu)
    sensitive.emergency_model = copy.copy(nlu.emergency_model)
    sensitive.emergency_model.threshold = 1e-9
    return sensitive


def test_a_request_only_the_classifier_finds_alarming_gets_the_numbers_then_its_answer(demo_flows, demo_nlu):  # noqa: ANN001
    from .conftest import at

    assert demo_nlu.emergency_model is not None  # the learnt net is part of the served NLU
    conv = DialogEngine(demo_flows, _hair_trigger(demo_nlu), lambda: at(OPEN)).new_conversation()
    conv.start()
    reply = conv.hear("Je veux vendre ma voiture, il me faut quoi comme papier de non-gage ?")
    u = reply.understanding
    assert u.emergency_notice and u.emergency_notice.startswith("classifier")
    assert u.action != "emergency" and u.topic == "hors_mairie"  # still routed: who handles it
    first, *rest = reply.prompts
    assert "le 112" in first.text and first.interruptible is False  # the numbers first, at once
    assert rest and "le 112" not in " ".join(p.text for p in rest)  # then the request is handled
    assert reply.action != "emergency" and reply.end is None


def test_an_unsure_reading_that_only_the_classifier_finds_alarming_is_an_emergency(engine_at):
    # emergency_dev2.jsonl (a fire told by a neighbour): no pattern fires, no request is confident.
    conv = started(engine_at)
    reply = conv.hear("Ils habitent la maison voisine. Quand j'ai voulu les prévenir, "
                      "je ne pouvais pas ouvrir leur portail")
    assert reply.understanding.emergency_notice is None
    assert reply.action == "emergency" and reply.understanding.topic == "urgence"
    assert "le 18" in said(reply) and "pas une urgence" in said(reply)


def test_texting_shorthand_is_read_as_the_words_it_stands_for(engine_at):
    # Written requests (a web form, an SMS) from a commune chatbot's test files: "qd", "koi", "pr".
    conv = started(engine_at)
    reply = conv.hear("la garderie elle ferme qd ?")
    assert reply.understanding.normalized.endswith("ferme quand")
    assert (reply.action, reply.understanding.topic) == ("answer", "ecole_enfance")


def test_words_the_bot_cannot_read_at_all_are_a_miss_not_a_silence(engine_at):
    # What the package-shipped Korean test model writes for French speech: nothing the French
    # normaliser keeps. It used to be taken for an "euh" and left the caller 20 s in silence.
    conv = started(engine_at)
    reply = conv.hear("안녕하세요 시간")
    assert reply.prompts and reply.action == "fallback" and reply.end is None
