"""What every layer of a conversation shares: its state, and how a reply is put together.

`Conversation` (conversation.py) is assembled from layers of one purpose each: repairs
(repairs.py), people: transfers, emergencies and callbacks (handover.py), and the end of the call
(ending.py). They all build on this class: the call's state, rendering a flow text, one prompt per
sentence with its node's barge-in setting, a reply, and the end of the call. A layer calls
another's step only through the hooks declared at the bottom.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from callbot.dialog.normalize import simplify
from callbot.dialog.schema import IntentDef, NodeSettings, SlotDef
from callbot.dialog.states import DEFAULT_NODE, State
from callbot.dialog.types import Action, Expect, Prompt, Reply, Understanding

if TYPE_CHECKING:
    from callbot.dialog.engine import DialogEngine


@dataclass
class Pending:
    """An intent waiting for the caller: a confirmation, a slot value, a follow-up answer."""

    intent: IntentDef
    slots: dict[str, Any] = field(default_factory=dict)
    understanding: Understanding | None = None
    slot_name: str | None = None
    # The rest of an answer too long for one go, offered with "Voulez-vous le détail ?" (details.py).
    detail: list[str] | None = None

    def slot(self) -> SlotDef:
        """The definition of the slot being asked for."""
        return next(s for s in self.intent.slots if s.name == self.slot_name)


class ConversationBase:
    def __init__(self, engine: DialogEngine, caller: str | None = None) -> None:
        self.engine = engine
        self.flows = engine.flows
        self.caller = caller
        self.state = State.NEW
        self.misses = 0
        self.idle_after_answer = 0
        self.answered = 0
        self.pending: Pending | None = None
        self.candidates: list[IntentDef] = []
        self.clarify_slots: dict[str, Any] = {}
        self.last_prompts: list[Prompt] = []
        self.last_expect = Expect.SPEECH
        self.digits = ""
        self.callback_number: str | None = None
        self.callback_topic: str | None = None
        self.ended: Reply | None = None
        self._topic: str | None = None
        self._intent: str | None = None
        self._summary: list[str] = []

    # -- what the lead stores on the call -------------------------------------------------------
    @property
    def topic(self) -> str | None:
        return self._topic

    @property
    def intent(self) -> str | None:
        return self._intent

    @property
    def summary(self) -> str:
        # Once each, whatever the case ("Horaires d'un service" asked, then answered after its slot).
        seen: dict[str, str] = {}
        for part in self._summary:
            seen.setdefault(part.casefold(), part)
        text = " ; ".join(seen.values())
        return text[:1].upper() + text[1:]

    @property
    def expect(self) -> str:
        return self.last_expect

    # -- speaking ----------------------------------------------------------------------------
    def clarify_prompt(self, a: IntentDef, b: IntentDef) -> Prompt:
        """ "Do you mean a, or rather b?" (also pre-synthesised: DialogEngine.spoken_replies)."""
        text = self.flows.prompts.clarify.replace("{a}", self._label(a)).replace("{b}", self._label(b))
        return self._prompt(text, State.CLARIFY)

    def _text(self, text: str, intent: IntentDef | None = None, slots: dict[str, Any] | None = None) -> str:
        return self.engine.renderer.render(text, self.engine.now(), intent, slots)

    def _label(self, intent: IntentDef) -> str:
        return intent.label or intent.summary or intent.id.replace("_", " ")

    def _node(self, name: str) -> NodeSettings:
        nodes = self.flows.settings.nodes
        return nodes.get(name) or nodes.get(DEFAULT_NODE) or NodeSettings()

    def _prompt(self, text: str, node: str = State.MAIN) -> Prompt:
        return Prompt(self._text(text), interruptible=self._node(node).barge_in)

    def _prompts(self, *texts: str, node: str = State.MAIN) -> list[Prompt]:
        """One prompt per sentence group, never glued: each is a fixed text the TTS cache holds."""
        return [self._prompt(t, node) for t in texts if t and t.strip()]

    def _reply(self, prompts: list[Prompt], action: str, u: Understanding | None = None, *,
               node: str = State.MAIN, expect: str = "speech", remember: bool = True) -> Reply:
        reply = Reply(prompts=prompts, action=action, understanding=u,
                      no_input_timeout=self._node(node).no_input_timeout, expect=expect)  # type: ignore[arg-type]
        if remember and prompts:
            self.last_prompts = prompts
            self.last_expect = expect
        return reply

    def _slot_value(self, name: str, stype: str, u: Understanding,
                    known: dict[str, Any] | None = None) -> Any:  # noqa: ANN401
        """A slot's value: already known, found by the NLU, or a synonym of its type in the words."""
        for source in (known or {}, u.slots or {}):
            for key in (name, stype):
                if source.get(key) not in (None, ""):
                    return source[key]
        if stype in self.flows.slot_types:
            said = f" {simplify(u.text)} "
            values = self.flows.slot_types[stype]
            pairs = sorted(((v, simplify(s)) for v, syns in values.items() for s in [v, *syns]),
                           key=lambda pair: -len(pair[1]))
            for value, syn in pairs:
                if syn and f" {syn} " in said:
                    return value
        return None

    # -- the end of the call -------------------------------------------------------------------
    def _end(self, u: Understanding, texts: list[str], outcome: str, action: str,
             end: str = "hangup") -> Reply:
        prompts = self._prompts(*texts)
        reply = self._reply(prompts, action, u)
        reply.end = end  # type: ignore[assignment]
        reply.outcome = outcome
        self.state = State.ENDED
        self.ended = reply
        return reply

    def _after_end(self) -> Reply:
        return Reply(prompts=[], action=Action.CONTROL, end=self.ended.end if self.ended else "hangup",
                     outcome=self.ended.outcome if self.ended else None)

    # -- hooks: steps one layer takes on behalf of another -------------------------------------
    def _deliver(self, intent: IntentDef, slots: dict[str, Any], u: Understanding) -> Reply:
        """Answer an intent (or ask for its missing slot): conversation.py."""
        raise NotImplementedError

    def _miss(self, u: Understanding, *, no_input: bool, lead: list[str] | None = None) -> Reply:
        """Not understood or nothing heard: count it, re-prompt, escalate (repairs.py)."""
        raise NotImplementedError

    def _transfer(self, u: Understanding, reason: str, intent: IntentDef | None, lead: list[str]) -> Reply:
        """Hand the call to people, or offer a callback when nobody is on duty (handover.py)."""
        raise NotImplementedError

