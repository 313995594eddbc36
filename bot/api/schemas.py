"""Request and response bodies of the HTTP API, as pydantic models.

The chat shapes are the `walletbot chat --jsonl` contract of ARCHITECTURE.md plus the
conversation token. Request models forbid unknown fields, so a typo in a client (`txt`,
`conversation_id`) is a clear 422 instead of a silently ignored key.

Length limits depend on `settings.http.max_message_chars`, which is only known when the app is
built, so they are checked by the routes (413) rather than declared here.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

# Error types raised by the validators below; bot.api.errors turns each into an error code.
EMPTY_MESSAGE = "empty_message"
TEXT_AND_PAYLOAD = "text_and_payload"
MISSING_MESSAGE = "missing_message"
MISSING_CONVERSATION = "missing_conversation"


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Response(BaseModel):
    # Keys the engine may add later are dropped, so the published shapes stay as documented.
    model_config = ConfigDict(extra="ignore")


def _not_blank(value: str | None, field: str) -> str | None:
    # Invalid Unicode and control characters never get here: bot.api.text_rule refuses them at
    # the edge, for every field of every route.
    if value is not None and not value.strip():
        raise PydanticCustomError(
            EMPTY_MESSAGE,
            "'{field}' is empty or only whitespace: send the words of the message.",
            {"field": field},
        )
    return value


class ChatRequest(_Request):
    """One user message: free text or the payload of a button, never both."""

    conversation: str | None = Field(
        None,
        max_length=64,
        description="Id of an existing conversation; omit it to start a new one.",
    )
    token: str | None = Field(
        None,
        max_length=128,
        description="The token returned when the conversation started; required with `conversation`.",
    )
    text: str | None = Field(
        None,
        description="What the user typed. At most `http.max_message_chars` characters (413 beyond).",
        examples=["我充值失败了"],
    )
    payload: str | None = Field(
        None,
        max_length=200,
        description="The `payload` of a button the user clicked, e.g. `/human`.",
        examples=["/human"],
    )
    brand: str | None = Field(
        None,
        max_length=64,
        description="Brand key from config.yml for a new conversation; defaults to `default_brand`.",
        examples=["kdou"],
    )
    message_id: str | None = Field(
        None,
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9._:-]+$",
        description=(
            "A client id for this message (letters, digits, . _ : -). Sending the same id again in the same "
            "conversation (a retry after a lost reply) returns the reply stored for it and changes nothing."
        ),
        examples=["m-1733131200-1"],
    )

    @field_validator("text")
    @classmethod
    def _text_not_blank(cls, value: str | None) -> str | None:
        return _not_blank(value, "text")

    @field_validator("payload")
    @classmethod
    def _payload_not_blank(cls, value: str | None) -> str | None:
        return _not_blank(value, "payload")

    @model_validator(mode="after")
    def _one_message(self) -> ChatRequest:
        if self.text is not None and self.payload is not None:
            raise PydanticCustomError(
                TEXT_AND_PAYLOAD,
                "Send either 'text' or 'payload', not both.",
            )
        if self.token is not None and self.conversation is None:
            raise PydanticCustomError(
                MISSING_CONVERSATION,
                "A 'token' was sent without its 'conversation' id: send both, or neither to start a new conversation.",
            )
        if self.text is None and self.payload is None:
            raise PydanticCustomError(
                MISSING_MESSAGE,
                "Send the user's message as 'text' or a button's 'payload'.",
            )
        return self


class ParseRequest(_Request):
    text: str = Field(
        description="The message to analyse. At most `http.max_message_chars` characters (413 beyond).",
        examples=["昨天充值100元没到账"],
    )

    @field_validator("text")
    @classmethod
    def _text_not_blank(cls, value: str) -> str:
        return _not_blank(value, "text") or value


class Button(_Response):
    title: str
    payload: str


class Message(_Response):
    text: str
    buttons: list[Button] = Field(default_factory=list)


class State(_Response):
    intent: str | None = None
    flow: str | None = None
    step: str | None = None
    faq_id: str | None = None
    ticket: str | None = Field(None, description="Number of the ticket opened for this conversation.")
    escalated: bool = False
    resolved: bool = Field(False, description="The bot declared the user's problem solved on this turn.")
    priority: str | None = Field(
        None, description="Priority of the conversation's ticket (urgent, high, normal, low), or null."
    )


class ChatResponse(_Response):
    conversation: str
    token: str = Field(description="Send it with every later message of this conversation.")
    messages: list[Message] = Field(
        description="The bot's replies, in order; empty while a human agent owns the conversation."
    )
    state: State


class HistoryEntry(_Response):
    seq: int
    role: str = Field(description="`user`, `bot` or `agent`.")
    text: str = Field(description="As stored: secrets and personal data redacted.")
    payload: str | None = Field(None, description="For a user's button press: the button's payload.")
    message_id: str | None = Field(
        None, description="For a user's message: the `message_id` it was sent with, so a client can show its own copy."
    )
    buttons: list[Button] = Field(default_factory=list)
    created_at: str | None = None


class HistoryResponse(_Response):
    conversation: str
    messages: list[HistoryEntry]
    state: State | None = Field(None, description="The conversation's current state, when the engine reports it.")
    ticket_status: str | None = Field(
        None,
        description="Status of the conversation's ticket (open, in_progress, waiting_on_user, resolved, closed), or null.",
    )


class Entity(_Response):
    entity: str
    value: Any
    start: int
    end: int


class RankedIntent(_Response):
    intent: str
    confidence: float


class ParseResponse(_Response):
    text: str
    intent: str
    confidence: float
    entities: list[Entity]
    ranking: list[RankedIntent]


class Health(_Response):
    status: str = Field(examples=["ok"])


class Ready(_Response):
    status: str = Field(examples=["ready"])
    checks: dict[str, bool] = Field(examples=[{"model": True, "database": True}])


class WidgetConfig(_Response):
    brand: str
    name: str
    color: str
    strings: dict[str, str] = Field(description="UI texts of the bubble from config.yml `ui:`.")
    max_message_chars: int
    poll_seconds: float


class ErrorDetail(_Response):
    code: str = Field(examples=["invalid_token"])
    message: str
    request_id: str | None = Field(
        None, description="On a 5xx: the id of the request (also in X-Request-ID), as written in the server's log."
    )


class ErrorBody(_Response):
    """The one shape of every error response."""

    error: ErrorDetail
