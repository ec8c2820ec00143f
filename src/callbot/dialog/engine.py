"""The dialog engine: flows + understanding + clock, shared by every call of a process."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from callbot.dialog.answers import Renderer, is_static, split_sentences
from callbot.dialog.conversation import Conversation
from callbot.dialog.flows import Flows, load_flows
from callbot.dialog.hours import Hours
from callbot.dialog.nlu import Nlu
from callbot.dialog.types import Expect, Transfer, Understanding


def make_nlu(flows: Flows) -> Nlu:
    """The understanding of these flows (examples, slot types, thresholds)."""
    return Nlu.from_flows(flows)


class DialogEngine:
    def __init__(self, flows: Flows, nlu: Any, clock: Callable[[], datetime]) -> None:  # noqa: ANN401
        self.flows = flows
        self.nlu = nlu
        self.clock = clock
        self.hours = Hours(flows.commune)
        self.renderer = Renderer(flows, self.hours)

    @classmethod
    def load(cls, flows_dir: Path, clock: Callable[[], datetime]) -> DialogEngine:
        """Load flows and the NLU once per process. Raises FlowError on invalid flows."""
        flows = load_flows(Path(flows_dir))
        return cls(flows, make_nlu(flows), clock)

    def now(self) -> datetime:
        return self.hours.local(self.clock())

    def understand(self, text: str, expect: str = Expect.SPEECH) -> Understanding:
        """The NLU's reading, with relative dates ("demain") resolved against the dialog's clock."""
        try:
            return self.nlu.understand(text, expect=expect, today=self.now().date())
        except TypeError:  # an NLU without the `today` argument
            return self.nlu.understand(text, expect=expect)

    def new_conversation(self, caller: str | None = None, *, sms: bool = False) -> Conversation:
        """One call's dialog; `sms`: this call can text links (dialog/sms_offer.py)."""
        return Conversation(self, caller=caller, sms=sms)

    # -- people ------------------------------------------------------------------------------
    def agents_on_duty(self, now: datetime | None = None, service: str | None = None) -> bool:
        """Is someone at the main desk (or at `service`) to take a transfer right now?"""
        return self.hours.is_open(service or self.flows.commune.main_service, now or self.now())

    def transfer_target(self, topic: str | None, service: str | None, reason: str,
                        now: datetime | None = None) -> Transfer:
        """Where a call goes: the topic's service if it is open, else the main desk."""
        services = self.flows.commune.services
        svc_id = service or self.flows.transfers.topics.get(topic or "", None) or self.flows.transfers.default
        if not self.hours.is_open(svc_id, now or self.now()) or not (services[svc_id].queue or
                                                                       services[svc_id].phone):
            svc_id = self.flows.transfers.default
        svc = services[svc_id]
        if svc.queue:
            return Transfer(kind="queue", target=svc.queue, reason=reason, service=svc_id)
        return Transfer(kind="dial", target=svc.phone or "", reason=reason, service=svc_id)

    def default_queue(self) -> str:
        svc = self.flows.commune.services[self.flows.transfers.default]
        return svc.queue or self.flows.commune.services[self.flows.commune.main_service].queue or "accueil"

    def goodbye_text(self) -> str:
        return self.flows.prompts.goodbye

    # -- speech ------------------------------------------------------------------------------
    def fixed_prompts(self, answers: bool = True) -> list[str]:
        """Every text that never changes, for TTS pre-synthesis (rendered the way it is spoken).

        `answers=False` keeps the conversation prompts only (greeting, repairs): what the server
        synthesises before it accepts calls; intents' answers are warmed in the background."""
        p = self.flows.prompts
        now = self.now()
        texts: list[str] = []
        for name, value in p.model_dump().items():
            if name in ("confirm", "clarify", "callback_done", "sms_text"):
                continue  # filled with the intent or the caller's number; sms_text is never spoken
            for t in value if isinstance(value, list) else [value]:
                texts.append(self.renderer.render(t, now))
        texts.append(self.greeting_text(now))
        sat = self.flows.satisfaction
        if sat.enabled:
            texts += [self.renderer.render(sat.question, now), self.renderer.render(sat.thanks, now)]
        for intent in self.flows.intents if answers else ():
            if intent.topic is not None:  # "Vous voulez <label>, c'est bien ça ?" for each intent
                label = intent.label or intent.id
                texts.append(self.renderer.render(p.confirm.replace("{label}", label), now))
            answers_ = [intent.answer] if intent.answer else []
            for variants in intent.variants.values():
                answers_ += variants.values()
            # Answers are spoken sentence by sentence; other texts whole.
            candidates = [sentence for t in answers_ for sentence in split_sentences(t)]
            if intent.follow_up:
                fu = intent.follow_up
                candidates += [t for t in (fu.question, fu.if_yes, fu.if_no) if t]
            candidates += [slot.question for slot in intent.slots]
            for t in candidates:
                if is_static(t):
                    texts.append(self.renderer.render(t, now, intent))
        return list(dict.fromkeys(t for t in texts if t))

    def spoken_replies(self) -> list[str]:
        """What the bot would say right now in reply to each example of the flows, each heard by a
        fresh conversation: clarifications between two close intents and live answers (today's
        hours) included. For pre-synthesis; prompts with a caller's data are left out."""
        texts: dict[str, None] = {}
        for intent in self.flows.intents:
            for example in intent.examples:
                conv = self.new_conversation()
                conv.start()
                try:
                    reply = conv.hear(example)
                except Exception:  # pre-synthesis must never fail start-up
                    continue
                texts.update((p.text, None) for p in reply.prompts if p.text and not p.private)
        # Residents' own phrasings make the bot hesitate between intents the examples keep apart
        # ("comment faire une carte d'identité": appointment or loss?): every question between
        # two intents of one topic is prepared too (150 for the demo flows).
        conv = self.new_conversation()
        for a in self.flows.intents:
            for b in self.flows.intents:
                if a.id != b.id and a.topic is not None and a.topic == b.topic:
                    texts[conv.clarify_prompt(a, b).text] = None
        return list(texts)

    def greeting_text(self, now: datetime | None = None) -> str:
        return " ".join(self.renderer.render(t, now or self.now()) for t in self.flows.prompts.greeting)
