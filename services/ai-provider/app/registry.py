"""The models this service can answer with, read from the environment.

Hosted providers appear when their key is set, a local OpenAI-compatible server when
LOCAL_LLM_URL and LOCAL_LLM_MODEL are, anything else through MODELS. Two models are always
there: `offline-template`, the deterministic writer that answers when no language model can
(it is not a language model and says so), and `all-minilm-l6-v2`, deep-learning's sentence
embeddings (usable only while deep-learning runs).
"""

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import litellm

from app.core.config import ModelConfig, Settings
from app.offline import OFFLINE_ID, OFFLINE_LITELLM_MODEL

# (key variable, model id, litellm model): a cheap, current chat model of each provider that
# litellm's bundled price map knows, so their costs are real figures.
HOSTED_CHAT = (
    ("OPENAI_API_KEY", "gpt-4o-mini", "openai/gpt-4o-mini"),
    ("ANTHROPIC_API_KEY", "claude-haiku-4-5", "anthropic/claude-haiku-4-5"),
    ("GEMINI_API_KEY", "gemini-2.5-flash", "gemini/gemini-2.5-flash"),
    ("MISTRAL_API_KEY", "mistral-small-latest", "mistral/mistral-small-latest"),
    ("DEEPSEEK_API_KEY", "deepseek-chat", "deepseek/deepseek-chat"),
)
HOSTED_EMBEDDING = (("OPENAI_API_KEY", "text-embedding-3-small", "openai/text-embedding-3-small"),)

DEEP_LEARNING_EMBEDDING_ID = "all-minilm-l6-v2"
DEEP_LEARNING_EMBEDDING_MODEL = "sentence-transformers/all-MiniLM-L6-v2"


class UnknownModel(LookupError):
    """A model id that is not configured; carries the ids that are."""

    def __init__(self, model: str, available: list[str]) -> None:
        super().__init__(f"unknown model {model!r}; use one of /v1/models or 'auto'")
        self.available = available


@dataclass(frozen=True)
class ModelSpec:
    """A model as routing, cost accounting and /v1/models see it."""

    id: str
    litellm_model: str
    provider: str
    owned_by: str
    mode: str = "chat"
    tasks: tuple[str, ...] = ("*",)
    input_cost_per_1k: float = 0.0
    output_cost_per_1k: float = 0.0
    # Where the prices come from: "litellm" (its bundled map), "configured" (MODELS), "none"
    # (unknown: counted as free, which /v1/models says), "free" (offline, local servers).
    price_source: str = "none"
    api_base: str | None = None
    api_key: str | None = field(default=None, repr=False)
    timeout: float | None = None
    fallbacks: tuple[str, ...] = ()
    offline: bool = False

    def serves(self, task: str) -> bool:
        return "*" in self.tasks or task in self.tasks

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        """US dollars for these token counts at this model's prices."""
        return (
            prompt_tokens * self.input_cost_per_1k + completion_tokens * self.output_cost_per_1k
        ) / 1000

    def public(self) -> dict:
        """The /v1/models entry."""
        return {
            "id": self.id,
            "object": "model",
            "owned_by": self.owned_by,
            "provider": self.provider,
            "mode": self.mode,
            "tasks": list(self.tasks),
            "input_cost_per_1k": self.input_cost_per_1k,
            "output_cost_per_1k": self.output_cost_per_1k,
            "price_source": self.price_source,
            "offline": self.offline,
        }


def litellm_prices(litellm_model: str) -> tuple[float, float] | None:
    """Input and output dollars per 1,000 tokens from litellm's bundled map, if it knows the
    model."""
    try:
        info = litellm.get_model_info(litellm_model)
    except Exception:  # noqa: BLE001 - litellm raises several types for "not mapped"
        return None
    inp, out = info.get("input_cost_per_token"), info.get("output_cost_per_token")
    if inp is None and out is None:
        return None
    return (inp or 0.0) * 1000, (out or 0.0) * 1000


def provider_of(litellm_model: str) -> str:
    """litellm's provider prefix ("openai/x" -> "openai")."""
    return litellm_model.split("/", 1)[0] if "/" in litellm_model else "openai"


def _priced(litellm_model: str, inp: float | None, out: float | None) -> dict:
    """litellm's price when it knows the model, else the configured one, else 0 ("none")."""
    if (known := litellm_prices(litellm_model)) is not None:
        inp, out = known
        return {"input_cost_per_1k": inp, "output_cost_per_1k": out, "price_source": "litellm"}
    if inp is not None or out is not None:
        return {
            "input_cost_per_1k": inp or 0.0,
            "output_cost_per_1k": out or 0.0,
            "price_source": "configured",
        }
    return {"input_cost_per_1k": 0.0, "output_cost_per_1k": 0.0, "price_source": "none"}


def _from_config(entry: ModelConfig, environ: Mapping[str, str]) -> ModelSpec:
    provider = provider_of(entry.litellm_model)
    owned_by = f"{provider} at {entry.api_base}" if entry.api_base else provider
    api_key = environ.get(entry.api_key_env) if entry.api_key_env else None
    return ModelSpec(
        id=entry.id,
        litellm_model=entry.litellm_model,
        provider=provider,
        owned_by=owned_by,
        mode=entry.mode,
        tasks=("embeddings",) if entry.mode == "embedding" else tuple(entry.tasks),
        api_base=entry.api_base,
        # OpenAI-compatible servers without auth still want some key from the client.
        api_key=api_key or ("none" if entry.api_base else None),
        timeout=entry.timeout,
        fallbacks=tuple(entry.fallbacks),
        **_priced(entry.litellm_model, entry.input_cost_per_1k, entry.output_cost_per_1k),
    )


OFFLINE = ModelSpec(
    id=OFFLINE_ID,
    litellm_model=OFFLINE_LITELLM_MODEL,
    provider="offline",
    owned_by="tiered (no language model)",
    price_source="free",
    offline=True,
)

DEEP_LEARNING_EMBEDDING = ModelSpec(
    id=DEEP_LEARNING_EMBEDDING_ID,
    litellm_model=DEEP_LEARNING_EMBEDDING_MODEL,
    provider="deep-learning",
    owned_by="tiered deep-learning (sentence-transformers/all-MiniLM-L6-v2)",
    mode="embedding",
    tasks=("embeddings",),
    price_source="free",
)


class Registry:
    """Chat and embedding models by id; offline-template is always the last chat model."""

    def __init__(self, specs: list[ModelSpec]) -> None:
        self.chat: dict[str, ModelSpec] = {}
        self.embedding: dict[str, ModelSpec] = {}
        for spec in specs:
            table = self.chat if spec.mode == "chat" else self.embedding
            if spec.id in table or spec.id in (OFFLINE_ID, DEEP_LEARNING_EMBEDDING_ID):
                raise ValueError(f"model id {spec.id!r} is configured twice")
            table[spec.id] = spec
        self.chat[OFFLINE_ID] = OFFLINE
        self.embedding = {DEEP_LEARNING_EMBEDDING_ID: DEEP_LEARNING_EMBEDDING, **self.embedding}
        for spec in self.chat.values():
            unknown = [name for name in spec.fallbacks if name not in self.chat]
            if unknown:
                raise ValueError(f"model {spec.id!r} falls back to unknown models {unknown}")

    @property
    def language_models(self) -> list[ModelSpec]:
        """Every chat model but the offline writer."""
        return [spec for spec in self.chat.values() if not spec.offline]

    def chat_model(self, model_id: str) -> ModelSpec:
        if (spec := self.chat.get(model_id)) is None:
            raise UnknownModel(model_id, ["auto", *self.chat])
        return spec

    def embedding_model(self, model_id: str) -> ModelSpec:
        if (spec := self.embedding.get(model_id)) is None:
            raise UnknownModel(model_id, list(self.embedding))
        return spec

    def public(self) -> list[dict]:
        return [spec.public() for spec in (*self.chat.values(), *self.embedding.values())]


def local_url(url: str) -> str:
    """The OpenAI-compatible base: the URL as given, with /v1 when it has no path (local-llm,
    Ollama and llama.cpp's servers all serve there)."""
    url = url.rstrip("/")
    return url if urlsplit(url).path else f"{url}/v1"


def local_model(settings: Settings, hosted_chat: bool) -> ModelSpec:
    """The local OpenAI-compatible server's model (LOCAL_LLM_URL, LOCAL_LLM_MODEL): free,
    with tokens counted. It serves "auto" routing unless a hosted chat model is configured,
    which then answers first (a free local model would otherwise always be the cheapest);
    named, it answers either way. The platform's own local-llm (LOCAL_LLM_INTERNAL) gets our
    internal credential as its key (servicekit.internal, read from the bearer)."""
    url = local_url(settings.local_llm_url or "")
    if settings.local_llm_internal:
        api_key = settings.internal_token
    else:
        api_key = settings.local_llm_api_key or "none"
    return ModelSpec(
        id=settings.local_llm_model or "",
        # litellm's OpenAI client against the server's /v1 (Ollama, vLLM, llama.cpp).
        litellm_model=f"openai/{settings.local_llm_model}",
        provider="local",
        owned_by=f"local server at {url}",
        tasks=() if hosted_chat else ("*",),
        api_base=url,
        api_key=api_key,
        price_source="free",
    )


def load_registry(settings: Settings, environ: Mapping[str, str] | None = None) -> Registry:
    """The models configured by `settings` and the provider keys found in `environ`."""
    env = os.environ if environ is None else environ
    specs: list[ModelSpec] = []
    hosted = [(*row, "chat") for row in HOSTED_CHAT] + [
        (*row, "embedding") for row in HOSTED_EMBEDDING
    ]
    for variable, model_id, litellm_model, mode in hosted:
        if key := env.get(variable):
            provider = provider_of(litellm_model)
            specs.append(
                ModelSpec(
                    id=model_id,
                    litellm_model=litellm_model,
                    provider=provider,
                    owned_by=provider,
                    mode=mode,
                    tasks=("embeddings",) if mode == "embedding" else ("*",),
                    api_key=key,
                    **_priced(litellm_model, None, None),
                )
            )
    if settings.local_llm_url and settings.local_llm_model:
        hosted_chat = any(spec.mode == "chat" for spec in specs)
        specs.append(local_model(settings, hosted_chat))
    specs.extend(_from_config(entry, env) for entry in settings.models)
    return Registry(specs)
