"""Links by SMS, as the caller lives it in the dialog: offered after an answer that has an online
procedure, to a mobile caller only, when SMS is configured; sent only after a "oui"."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from callbot.dialog.flows import FlowError, load_flows

from .conftest import FLOWS_DIR

OPEN = "2026-11-24T10:00"  # a Tuesday morning
MOBILE = "06 12 34 56 78"
LANDLINE = "+33145678900"
OFFER = "Voulez-vous que je vous envoie le lien par SMS ?"
PROCURATION_LINK = "https://www.maprocuration.gouv.fr/"


def texts(reply) -> list[str]:  # noqa: ANN001
    return [p.text for p in reply.prompts]


def ask_procuration(engine_at, caller: str | None, sms: bool):  # noqa: ANN001, ANN201
    """Ask about proxy votes and take the rest of the answer: returns (conversation, last reply)."""
    conv = engine_at(OPEN).new_conversation(caller=caller, sms=sms)
    conv.start()
    reply = conv.hear("je voudrais faire une procuration")
    assert any("maprocuration" in t for t in texts(reply))
    if texts(reply)[-1] == "Voulez-vous le détail ?":  # the answer is longer than the limit
        reply = conv.hear("oui")
    return conv, reply


def test_a_consenting_mobile_caller_gets_the_link_once(engine_at):
    conv, reply = ask_procuration(engine_at, MOBILE, sms=True)
    assert texts(reply)[-1] == OFFER and reply.sms is None  # asked, nothing sent yet
    reply = conv.hear("oui")
    assert reply.sms is not None
    assert reply.sms.to == "+33612345678"
    assert PROCURATION_LINK in reply.sms.text and "Saint-Démo-sur-Loire" in reply.sms.text
    assert reply.sms.failed and "06 12" not in repr(reply.sms) and "+336" not in repr(reply.sms)
    assert texts(reply) == ["Je vous envoie le lien par SMS.", "Avez-vous une autre question ?"]
    # The same question again: the answer again, not a second offer of the same text.
    again = conv.hear("je voudrais faire une procuration")
    if texts(again)[-1] == "Voulez-vous le détail ?":
        again = conv.hear("oui")
    assert OFFER not in texts(again) and again.sms is None


def test_a_refusal_sends_nothing(engine_at):
    conv, reply = ask_procuration(engine_at, MOBILE, sms=True)
    assert texts(reply)[-1] == OFFER
    reply = conv.hear("non merci")
    assert reply.sms is None and texts(reply) == ["Avez-vous une autre question ?"]
    assert conv.hear("non").sms is None  # then goodbye, nothing sent


def test_a_new_question_instead_of_an_answer_sends_nothing(engine_at):
    conv, reply = ask_procuration(engine_at, MOBILE, sms=True)
    reply = conv.hear("quels sont les horaires de la mairie")
    assert reply.sms is None and reply.understanding.intent == "horaires_mairie"


@pytest.mark.parametrize("caller, sms", [(LANDLINE, True), (None, True), ("+4915112345678", True),
                                         (MOBILE, False)])
def test_no_offer_to_a_landline_a_hidden_or_foreign_number_or_without_credentials(engine_at, caller, sms):
    conv, reply = ask_procuration(engine_at, caller, sms=sms)
    assert OFFER not in texts(reply) and texts(reply)[-1] == "Avez-vous une autre question ?"
    assert conv.hear("oui").sms is None


def test_an_answer_without_a_link_is_never_offered(engine_at):
    conv = engine_at(OPEN).new_conversation(caller=MOBILE, sms=True)
    conv.start()
    reply = conv.hear("quels sont les horaires de la mairie")
    assert reply.understanding.intent == "horaires_mairie" and OFFER not in texts(reply)


def test_a_link_must_be_an_https_address(tmp_path: Path):
    flows = tmp_path / "flows"
    shutil.copytree(FLOWS_DIR, flows)
    path = flows / "intents/citoyennete.yaml"
    path.write_text(path.read_text().replace(f"link: {PROCURATION_LINK}", "link: maprocuration gouv", 1))
    with pytest.raises(FlowError) as err:
        load_flows(flows)
    line = next(i for i, t in enumerate(path.read_text().splitlines(), 1) if "link: maprocuration gouv" in t)
    assert any(e.startswith(f"intents/citoyennete.yaml:{line}:") and "lien invalide" in e
               for e in err.value.errors), err.value.errors
