"""Request bodies of the OpenAI-compatible API, with this service's extensions."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.registry import DEEP_LEARNING_EMBEDDING_ID


class Message(BaseModel):
    """One chat message: text content only (no images, tools or names)."""

    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "user", "assistant"]
    content: str

    @field_validator("content")
    @classmethod
    def _not_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("content is empty")
        return value


class StreamOptions(BaseModel):
    """OpenAI's stream options: whether the last event carries the usage."""

    model_config = ConfigDict(extra="ignore")

    include_usage: bool = False


class ChatCompletionCreate(BaseModel):
    """OpenAI's chat completion request plus task, max_cost_usd, prefer, cache, cache_scope and
    fallback.

    Unknown OpenAI fields are ignored. `stream: true` answers with server-sent events
    (app.streaming); `stream_options.include_usage` adds OpenAI's usage chunk at the end.
    """

    model_config = ConfigDict(extra="ignore")

    model: str = Field(min_length=1, max_length=128)
    messages: list[Message] = Field(min_length=1)
    max_tokens: int | None = Field(default=None, ge=1, le=100_000)
    temperature: float = Field(default=0.0, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    stop: str | list[str] | None = None
    user: str | None = Field(default=None, max_length=128)
    stream: bool = False
    stream_options: StreamOptions | None = None
    task: str = Field(default="chat", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    max_cost_usd: float | None = Field(default=None, ge=0)
    prefer: Literal["cost", "latency"] = "cost"
    cache: bool = True
    # Whose cache: the caller's own ("user") or the one every caller who asks shares.
    cache_scope: Literal["user", "shared"] = "user"
    fallback: bool = True

    @field_validator("stop")
    @classmethod
    def _stops(cls, value: str | list[str] | None) -> list[str] | None:
        if value is None:
            return None
        stops = [value] if isinstance(value, str) else value
        if len(stops) > 4 or any(not s for s in stops):
            raise ValueError("stop takes 1 to 4 non-empty strings")
        return stops


class EmbeddingsCreate(BaseModel):
    """OpenAI's embeddings request: one text or a list of texts."""

    model_config = ConfigDict(extra="ignore")

    model: str = Field(default=DEEP_LEARNING_EMBEDDING_ID, min_length=1, max_length=128)
    input: str | list[str]

    @field_validator("input")
    @classmethod
    def _texts(cls, value: str | list[str]) -> list[str]:
        texts = [value] if isinstance(value, str) else value
        if not texts:
            raise ValueError("input is empty")
        for i, text in enumerate(texts):
            if not text.strip():
                raise ValueError(f"input[{i}] is empty")
        return texts
