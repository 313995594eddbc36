"""The Assistant: the path of one message, from a channel to the database and back.

    load conversation (locked) -> guard (detect, redact) -> NLU -> dialogue policy
    -> ticket (same transaction) -> persist redacted turns and state -> reply

Channels (CLI, HTTP) call only this class. Everything it loads (content, model, FAQ index,
policy) sits in one immutable Runtime that `reload()` swaps in a single assignment, so a message
in flight always sees one consistent version of the content.

Over 400 lines on purpose: `handle` is one transaction from lock to commit, and the callbacks
the policy gets (open or update the ticket, its status) close over that transaction; split
across modules, the transaction's boundary would be harder to see.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from actions.registry import load_actions
from bot import guard
from bot.config import Settings
from bot.content import Content, errors_of, load_content
from bot.dialogue import Policy, TicketInfo, TicketRequest, TicketUpdate, fresh_state, public_state
from bot.errors import ContentError, ConversationError
from bot.faq.index import FaqIndex, SentenceTransformerEmbedder, load_synonym_subset
from bot.nlu.normalize import normalize_unremembered
from bot.nlu.pipeline import NLU, ParseResult
from bot.safety import scam as scams
from bot.store import (
    Database,
    add_feedback,
    add_to_ticket,
    create_conversation,
    create_ticket_once,
    get_conversation,
    get_ticket_for_conversation,
    insert_conversation,
    last_reply_role,
    list_turns,
    lock_conversation,
    record_turns,
    stored_reply,
    token_hash_matches,
)
from bot.store.db import OrmOnDemand
from bot.text import render

if TYPE_CHECKING:
    from bot.metrics import Metrics

log = logging.getLogger("walletbot.engine")
# Words in a bot message that mean the next bare number is probably a verification code.
_CODE_WORDS = ("验证码", "校验码", "动态码")
# Conversation token hashes kept in memory (~150 bytes each), oldest forgotten first.
_TOKENS_REMEMBERED = 50_000


@dataclass(frozen=True, slots=True)
class Runtime:
    content: Content
    nlu: NLU
    faq: FaqIndex
    policy: Policy
    scam_patterns: scams.ScamPatterns


def build_runtime(settings: Settings, nlu: NLU | None = None) -> Runtime:
    """Load content and model into a Runtime. Raises ContentError, ModelNotTrained."""
    content = load_content(settings, lint=False)
    if errors_of(content.problems):
        raise ContentError(content.problems)
    nlu = nlu or NLU.load(settings.models_dir)
    embedder = SentenceTransformerEmbedder(settings.faq.embeddings_model) if settings.faq.embeddings_model else None
    faq = FaqIndex(
        content.faq,
        nlu.classifier.tokenizer,
        embedder,
        settings.faq.embeddings_weight,
        intent_ranker=nlu.classifier.rank,
        synonyms=load_synonym_subset(settings.models_dir),
    )
    policy = Policy(content, settings, faq, nlu.extractor, load_actions(), nlu.read_reply, nlu.classifier.rank)
    assert content.scam_patterns is not None  # a broken file is a content error, raised above
    return Runtime(content, nlu, faq, policy, content.scam_patterns)


@dataclass(slots=True)
class ReloadStatus:
    """What the console shows: the content version in use, when it loaded, the last failure."""

    version: str
    loaded_at: str
    errors: list[str] = field(default_factory=list)
    failed_at: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "version": self.version,
            "loaded_at": self.loaded_at,
            "errors": self.errors,
            "failed_at": self.failed_at,
        }


class Assistant:
    def __init__(self, settings: Settings, runtime: Runtime, db: Database) -> None:
        self.settings = settings
        self.runtime = runtime
        self.db = db
        self.reload_status = ReloadStatus(runtime.content.version, runtime.content.loaded_at)
        self._token_hashes: dict[str, str] = {}
        self._token_lock = threading.Lock()
        # Set by the HTTP app when /metrics is on (bot/metrics.py); None: nothing is counted.
        self.metrics: Metrics | None = None

    @classmethod
    def from_settings(
        cls, settings: Settings, *, auto_train: bool = False, progress: Callable[[str], None] = lambda _m: None
    ) -> Assistant:
        from bot.content_snapshot import start_runtime

        runtime, fallback = start_runtime(settings, auto_train=auto_train, progress=progress)
        db = Database(settings.database_url)
        db.migrate()
        assistant = cls(settings, runtime, db)
        if fallback is not None:  # the console's content page shows why the version is old
            now = datetime.now(UTC).isoformat(timespec="seconds")
            errors = [str(problem) for problem in fallback.problems]
            assistant.reload_status = ReloadStatus(runtime.content.version, runtime.content.loaded_at, errors, now)
        return assistant

    def close(self) -> None:
        self.db.dispose()

    def ready(self) -> dict[str, bool]:
        return {"model": self.runtime is not None, "database": self.db.ping()}

    # ------------------------------------------------------------------ conversations

    def start_conversation(
        self, *, brand: str | None = None, channel: str = "http", conversation_id: str | None = None
    ) -> tuple[str, str]:
        brand_key = brand or self.settings.default_brand
        self.settings.brand(brand_key)  # raises ConfigError for an unknown brand
        with self.db.session() as s:
            conv, token = create_conversation(
                s, brand=brand_key, channel=channel, conv_id=conversation_id, state=fresh_state()
            )
        self._remember_token(conv.id, conv.token_hash)
        return conv.id, token

    def check_token(self, conversation_id: str, token: str | None) -> None:
        """Raises ConversationError: 404 for an unknown conversation, 403 for a wrong token.

        A token never changes, so its hash is remembered after the first look-up: later
        messages skip a database round trip (about a tenth of a message's cost over HTTP).
        """
        expected = self._token_hashes.get(conversation_id)
        if expected is None:
            with self.db.session(readonly=True) as s:
                conv = get_conversation(s, conversation_id)
                if conv is None:
                    raise ConversationError(f"Conversation '{conversation_id}' does not exist.", code="not_found")
                expected = conv.token_hash
            self._remember_token(conversation_id, expected)
        if not token_hash_matches(expected, token):
            raise ConversationError("The conversation token is missing or wrong.", code="forbidden")

    def _remember_token(self, conversation_id: str, token_hash: str) -> None:
        with self._token_lock:
            if len(self._token_hashes) >= _TOKENS_REMEMBERED:
                self._token_hashes.pop(next(iter(self._token_hashes)))  # the oldest
            self._token_hashes[conversation_id] = token_hash

    def parse(self, text: str) -> ParseResult:
        return self.runtime.nlu.parse(text)

    def start_and_handle(
        self,
        *,
        brand: str | None = None,
        channel: str = "http",
        text: str | None = None,
        payload: str | None = None,
        now: datetime | None = None,
        message_id: str | None = None,
    ) -> tuple[dict[str, Any], str]:
        """The first message of a new conversation, in the transaction that creates it (one
        commit, not two); returns the reply and the conversation's token. A first message that
        fails leaves no conversation behind.

        Raises:
            ConfigError: unknown brand.
            ConversationError: as `handle`.
        """
        brand_key = brand or self.settings.default_brand
        self.settings.brand(brand_key)  # raises ConfigError for an unknown brand
        started: list[tuple[str, str]] = []
        reply = self.handle(
            None, text=text, payload=payload, now=now, message_id=message_id, start=(brand_key, channel, started)
        )
        token, token_hash = started[0]
        self._remember_token(reply["conversation"], token_hash)
        return reply, token

    def handle(
        self,
        conversation_id: str | None,
        *,
        text: str | None = None,
        payload: str | None = None,
        now: datetime | None = None,
        message_id: str | None = None,
        start: tuple[str, str, list[tuple[str, str]]] | None = None,
    ) -> dict[str, Any]:
        """Process one user message or button press; returns the `chat --jsonl` reply object.

        `message_id`: the client's id for the message. A repeat of an id this conversation has
        already applied returns the reply stored with it and changes nothing (a retry after a
        lost reply must not apply the message twice).

        Raises:
            ConversationError: code not_found (unknown conversation), unknown_payload (a button not
                valid now) or invalid_message; bot.api.errors turns the code into a status.
        """
        if (text is None) == (payload is None):
            raise ConversationError(
                "Send either 'text' or 'payload', not both and not neither.", code="invalid_message"
            )
        runtime = self.runtime
        now = now or datetime.now(UTC)
        local_now = now.astimezone().replace(tzinfo=None)
        # Understanding needs no database: do it before taking the conversation's lock, so that
        # other messages (and other workers) wait only for the short write below.
        understood = self._understand(runtime, text, expecting_code=False, now=local_now) if text is not None else None
        with self.db.transaction() as connection, OrmOnDemand(connection) as orm:
            if start is not None:  # start_and_handle: (brand, channel, where the token goes)
                conv, token, token_hash = insert_conversation(
                    connection, brand=start[0], channel=start[1], state=fresh_state()
                )
                start[2].append((token, token_hash))
            else:
                found = lock_conversation(connection, conversation_id) if conversation_id else None
                if found is None:
                    raise ConversationError(f"Conversation '{conversation_id}' does not exist.", code="not_found")
                conv = found
            if message_id is not None and start is None:
                stored = stored_reply(connection, conv.id, message_id)
                if stored is not None:
                    return stored
            state = dict(conv.state or fresh_state())
            brand = self.settings.brand(conv.brand)

            secret = scam = False
            nlu: ParseResult | None = None
            stored_text: str | None
            contact_text: str | None
            if text is not None:
                if state.get("expecting_code"):  # the bot just asked about a code: bare digits are secrets
                    understood = self._understand(runtime, text, expecting_code=True, now=local_now)
                assert understood is not None  # understood above whenever there is a text
                stored_text, contact_text, secret, scam, nlu = understood
                user_turn: dict[str, Any] = {"role": "user", "text": stored_text}
            else:
                stored_text = contact_text = None
                # Store the pressed button's title so transcripts read like what the user saw.
                title = next((b["title"] for b in state.get("offered") or [] if b["payload"] == payload), "")
                user_turn = {"role": "user", "text": title, "payload": payload}
            user_seq = (conv.turn_count or 0) + 1

            if conv.human_owner:
                # An agent owns the conversation: the bot only says, once per burst of messages
                # since the agent's last reply, that the agent will read them.
                meta: dict[str, Any] = {"outcome": "human"}
                turns: list[dict[str, Any]] = [{**user_turn, "meta": meta}]
                messages = []
                if last_reply_role(connection, conv.id) != "bot":
                    text_owned = render(
                        runtime.content.responses.texts.get("human_owned", ""), conv.brand, brand.placeholders()
                    )
                    messages = [{"text": text_owned, "buttons": []}]
                    turns.append({"role": "bot", "text": text_owned, "meta": {"buttons": []}})
                reply = {"conversation": conv.id, "messages": messages, "state": public_state(state)}
                if message_id is not None:
                    meta |= {"message_id": message_id, "reply": reply}
                record_turns(connection, conv, turns, state)
                if self.metrics is not None:
                    self.metrics.message("human", None)
                return reply

            def open_ticket(request: TicketRequest) -> TicketInfo:
                ticket, created = create_ticket_once(
                    orm.session,
                    conv,
                    brand=conv.brand,
                    category=request.category,
                    priority=request.priority,
                    summary=request.summary,
                    details=request.details,
                    trail=request.trail,
                    sla_hours=brand.sla_hours,
                )
                if created:
                    log.info(
                        "ticket %s opened: category=%s priority=%s", ticket.number, request.category, request.priority
                    )
                    if self.metrics is not None:
                        self.metrics.ticket_opened(str(ticket.priority))
                return TicketInfo(ticket.number, created, str(ticket.priority))

            def update_ticket(update: TicketUpdate) -> TicketInfo | None:
                ticket = add_to_ticket(
                    orm.session,
                    conv,
                    priority=update.priority,
                    category=update.category,
                    problem=update.problem,
                    details=update.details,
                    trail=update.trail,
                    sla_hours=brand.sla_hours,
                )
                return None if ticket is None else TicketInfo(ticket.number, False, str(ticket.priority))

            result = runtime.policy.respond(
                state,
                conv.brand,
                text=stored_text,
                payload=payload,
                nlu=nlu,
                open_ticket=open_ticket,
                update_ticket=update_ticket,
                raw_text=contact_text,
                secret=secret,
                scam=scam,
                now=now,
                ticket_status=lambda: (
                    None
                    if (ticket := get_ticket_for_conversation(orm.session, conv.id)) is None
                    else ticket.status.value
                ),
            )
            user_turn |= {
                "intent": nlu["intent"] if nlu else None,
                "confidence": nlu["confidence"] if nlu else None,
                "meta": {
                    "outcome": str(result.outcome),
                    "flow": state.get("flow"),
                    "step": state.get("step"),
                    "faq_id": state.get("faq_id"),
                    **result.report,  # what the insights count: steps shown, answer chosen, solved, escalated
                },
            }
            if result.feedback:
                kind, target, helpful = result.feedback
                add_feedback(orm.session, conv, turn_seq=user_seq, target_kind=kind, target_id=target, helpful=helpful)
            # Only the question the user answers next counts: a warning "不要发送验证码" before a
            # detail question must not turn the amount typed next into a hidden code.
            asking = next((m["text"] for m in reversed(result.messages) if m["text"]), "")
            state["expecting_code"] = any(w in asking for w in _CODE_WORDS)
            bot_turns = [{"role": "bot", "text": m["text"], "meta": {"buttons": m["buttons"]}} for m in result.messages]
            reply = {"conversation": conv.id, "messages": result.messages, "state": public_state(state)}
            if message_id is not None:
                user_turn["meta"] |= {"message_id": message_id, "reply": reply}
            record_turns(connection, conv, [user_turn, *bot_turns], state)
            if self.metrics is not None:
                self.metrics.message(str(result.outcome), nlu["confidence"] if nlu else None)
            log.debug("turn %s/%s intent=%s outcome=%s", conv.id, user_seq, user_turn["intent"], result.outcome)
            return reply

    @staticmethod
    def _understand(
        runtime: Runtime, text: str, *, expecting_code: bool, now: datetime
    ) -> tuple[str, str, bool, bool, ParseResult]:
        """Redacted text, the text with only its secrets hidden (read for a contact detail the
        bot asked for: a password that looks like a phone number must not become the contact),
        whether it held a secret, whether it describes a scam, and its parse."""
        findings = guard.scan(text, expecting_code=expecting_code)
        redacted = guard.redact(text, findings)
        secrets = [f for f in findings if f.kind in guard.SECRET_KINDS]
        contact_text = guard.redact(text, secrets)
        scam = scams.detect_scam(normalize_unremembered(text), runtime.scam_patterns) is not None
        warned = any(guard.warns(text, f) for f in findings)
        return redacted, contact_text, warned, scam, runtime.nlu.parse(redacted, now=now)

    def history(self, conversation_id: str) -> list[dict[str, Any]]:
        with self.db.session(readonly=True) as s:
            return [
                {
                    "seq": t.seq,
                    "role": str(t.role),
                    "text": t.text,
                    "payload": t.payload,
                    "message_id": (t.meta or {}).get("message_id"),
                    "buttons": (t.meta or {}).get("buttons", []),
                    "created_at": t.created_at.isoformat(timespec="seconds"),
                }
                for t in list_turns(s, conversation_id)
            ]

    def exists(self, conversation_id: str) -> bool:
        with self.db.session(readonly=True) as s:
            return get_conversation(s, conversation_id) is not None

    def state(self, conversation_id: str) -> dict[str, Any]:
        with self.db.session(readonly=True) as s:
            conv = get_conversation(s, conversation_id)
            if conv is None:
                raise ConversationError(f"Conversation '{conversation_id}' does not exist.", code="not_found")
            return public_state(conv.state or fresh_state())

    def ticket_status(self, conversation_id: str) -> str | None:
        """The status of the conversation's ticket (open, …, closed), or None without one.

        The bubble polls it to tell the user when an agent resolves or closes their ticket.
        """
        with self.db.session(readonly=True) as s:
            ticket = get_ticket_for_conversation(s, conversation_id)
            return None if ticket is None else ticket.status.value
