"""Settings of ai-provider, read from the environment (see services/README.md)."""

from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, Field

from servicekit.redisclient import RedisSettings


class ModelConfig(BaseModel):
    """One entry of MODELS: any model litellm can call, named and priced by the operator."""

    id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$")
    litellm_model: str = Field(min_length=1)
    mode: Literal["chat", "embedding"] = "chat"
    api_base: str | None = None
    # The NAME of the variable holding the key (the key itself never sits in MODELS).
    api_key_env: str | None = None
    tasks: list[str] = Field(default_factory=lambda: ["*"])
    input_cost_per_1k: float | None = Field(default=None, ge=0)
    output_cost_per_1k: float | None = Field(default=None, ge=0)
    timeout: float | None = Field(default=None, gt=0)
    # Model ids tried, in order, when this one fails (explicit requests only; "auto" routing
    # already tries every candidate).
    fallbacks: list[str] = Field(default_factory=list)


class Settings(RedisSettings):
    """Redis, deep-learning, providers, routing limits, the cache and tracing."""

    service_name: str = "ai-provider"
    port: int = 8005

    # Every key this service writes starts with it (tests give each app its own).
    redis_prefix: str = "ai-provider"

    # deep-learning (tier 5) gives the default embedding model and the semantic cache; it may
    # not be running at all, which only turns those off.
    deep_learning_url: str = "http://deep-learning:8007"
    deep_learning_timeout: float = Field(default=5.0, gt=0)
    # After deep-learning failed to answer, seconds before it is asked again (so a stopped
    # service costs one failed connection per interval, not one per request).
    deep_learning_retry_seconds: float = Field(default=10.0, ge=0)

    # Providers besides the hosted ones found by their keys (OPENAI_API_KEY, ...): a local
    # OpenAI-compatible server (Ollama's /v1, vLLM) and a JSON list of anything else.
    # A base URL without a path gets /v1 (the OpenAI-compatible routes' prefix).
    local_llm_url: str | None = None
    local_llm_model: str | None = None
    local_llm_api_key: str | None = None
    # The server is the platform's own local-llm (the catalog sets it): present our internal
    # credential as its key, instead of LOCAL_LLM_API_KEY (never sent to a server of yours).
    local_llm_internal: bool = False
    models: list[ModelConfig] = Field(default_factory=list)

    # Seconds one provider call may take, and retries of the same model on a timeout, a 5xx
    # or a connection error before the next candidate is tried.
    provider_timeout: float = Field(default=20.0, gt=0)
    provider_retries: int = Field(default=1, ge=0, le=5)
    # Seconds between those retries (times the attempt number).
    retry_backoff: float = Field(default=0.2, ge=0)

    # Characters of all message contents together; longer prompts are 413.
    max_prompt_chars: int = Field(default=32_000, ge=1)
    # max_tokens assumed for the cost estimate when a request gives none.
    default_max_tokens: int = Field(default=512, ge=1)
    # Texts one POST /v1/embeddings may carry.
    max_embedding_inputs: int = Field(default=64, ge=1)

    cache_ttl_seconds: int = Field(default=3600, ge=1)
    semantic_threshold: float = Field(default=0.92, gt=0, le=1)
    # Recent prompts kept per partition (route, system prompt, parameters, numbers) for the
    # semantic match; the match compares against all of them.
    semantic_max_entries: int = Field(default=100, ge=1, le=10_000)
    # Longer prompt texts use the exact cache only: deep-learning embeds at most 2,000
    # characters, and a truncated text would match prompts that differ after the cut.
    semantic_max_chars: int = Field(default=2_000, ge=1)
    # Weight of the newest sample in each model's latency average (routing by latency).
    latency_ewma_alpha: float = Field(default=0.3, gt=0, le=1)

    # Tracing to Langfuse (through litellm's OpenTelemetry callback) when both keys are set.
    langfuse_public_key: str | None = None
    langfuse_secret_key: str | None = None
    langfuse_host: str | None = None


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
