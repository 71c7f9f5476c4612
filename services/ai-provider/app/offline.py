"""offline-template: the answer when no language model is configured or every one failed.

It is NOT a language model. It reads the facts of a prompt, lines like `- <label>: <value>`
(the market-brief workflow sends `- symbol: EURUSD`, `- signal (sma_cross): buy`, ...), and
writes them out as plain sentences; any other prompt gets a clearly labelled restatement. Every
answer opens with MARKER, so no reader can take it for a model's. It is deterministic: the same
prompt always gives the same text.

It is served through litellm as a custom provider (`offline/offline-template`), so routing,
retries, token counting, cost accounting and tracing take one path for every model.
"""

import re
from collections.abc import AsyncIterator, Awaitable, Callable

import litellm
from litellm import CustomLLM
from litellm.types.utils import ModelResponse, Usage

OFFLINE_ID = "offline-template"
OFFLINE_PROVIDER = "offline"
OFFLINE_LITELLM_MODEL = f"{OFFLINE_PROVIDER}/{OFFLINE_ID}"
MARKER = "[offline template: no language model configured]"
# Counts the template's tokens the way OpenAI's models would (cl100k, bundled with litellm).
TOKENIZER_MODEL = "gpt-4o-mini"

_FACT = re.compile(r"^\s*[-*\u2022]\s*([^:\n]{1,80}?)\s*:\s*(\S.*?)\s*$")
_QUALIFIED = re.compile(r"^(.*?)\s*\((.+)\)$")
# A word with the spaces after it (or leading spaces alone): the pieces join back to the text.
_PIECE = re.compile(r"\S+\s*|\s+")
EXCERPT_CHARS = 400


def facts(text: str) -> list[tuple[str, str]]:
    """The `- label: value` lines of `text`, in order."""
    found = []
    for line in text.splitlines():
        if match := _FACT.match(line):
            found.append((match.group(1).strip(), match.group(2).strip().rstrip(".")))
    return found


def _sentence(label: str, value: str) -> str | None:
    """One fact as a sentence; None for `missing`, which is gathered into one sentence."""
    qualified = _QUALIFIED.match(label)
    base, qualifier = (qualified.group(1), qualified.group(2)) if qualified else (label, None)
    key = base.lower()
    if key in ("missing", "unavailable"):
        return None
    if key in ("symbol", "instrument", "pair", "ticker"):
        return f"This covers {value}."
    if key in ("signal", "rule signal"):
        return f"The {qualifier or 'rule'} signal says {value}."
    if key == "prediction":
        return f"The {qualifier or 'ML'} model predicts {value}."
    if key.startswith("last ") or key in ("close", "price", "open", "high", "low"):
        return f"The {label} was {value}."
    if key in ("note", "warning", "caveat"):
        return f"Note: {value}."
    return f"The {label} is {value}."


def write(messages: list[dict]) -> str:
    """The template's answer to `messages` (the last user message is the one read)."""
    users = [m.get("content") or "" for m in messages if m.get("role") == "user"]
    prompt = users[-1] if users else ""
    found = facts(prompt)
    if not found:
        words = len(prompt.split())
        excerpt = " ".join(prompt.split())
        if len(excerpt) > EXCERPT_CHARS:
            excerpt = excerpt[:EXCERPT_CHARS].rstrip() + "..."
        return (
            f"{MARKER} No language model is configured, so this request cannot be answered; "
            f'it is restated instead. The request ({words} words) reads: "{excerpt}"'
        )
    sentences = [s for label, value in found if (s := _sentence(label, value))]
    missing = [value for label, value in found if label.lower() in ("missing", "unavailable")]
    if missing:
        sentences.append(f"Not available: {'; '.join(missing)}.")
    sentences.append(
        "These figures are restated as given, by a template rather than a language model, "
        "so nothing here is analysis or advice."
    )
    return f"{MARKER} {' '.join(sentences)}"


def truncate(text: str, max_tokens: int | None) -> tuple[str, str]:
    """`text` cut to `max_tokens` tokens and its finish reason ("stop" or "length")."""
    if not max_tokens:
        return text, "stop"
    tokens = litellm.encode(model=TOKENIZER_MODEL, text=text)
    if len(tokens) <= max_tokens:
        return text, "stop"
    return litellm.decode(model=TOKENIZER_MODEL, tokens=list(tokens[:max_tokens])), "length"


def pieces(text: str) -> list[str]:
    """`text` in the pieces a stream sends, one word each (with its trailing spaces)."""
    return _PIECE.findall(text)


class OfflineTemplateLLM(CustomLLM):
    """litellm's handler for the `offline` provider: the template writer as a "model".

    Streamed, it sends its text a word per chunk, then a last chunk with the finish reason and
    the usage. `between_chunks`, when set, is awaited before every chunk after the first: tests
    hold a stream there to see that its first chunk reached the client before the rest existed.
    """

    between_chunks: Callable[[], Awaitable[None]] | None = None

    # litellm passes every argument by name (see litellm.main's custom provider dispatch).
    def completion(
        self, model, messages, model_response: ModelResponse, optional_params: dict, **kwargs
    ) -> ModelResponse:
        text, finish_reason = truncate(write(messages), optional_params.get("max_tokens"))
        prompt_tokens = litellm.token_counter(model=TOKENIZER_MODEL, messages=messages)
        completion_tokens = litellm.token_counter(model=TOKENIZER_MODEL, text=text)
        model_response.choices[0].message.content = text
        model_response.choices[0].finish_reason = finish_reason
        model_response.model = OFFLINE_ID
        model_response.usage = Usage(
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            total_tokens=prompt_tokens + completion_tokens,
        )
        return model_response

    async def acompletion(
        self, model, messages, model_response: ModelResponse, optional_params: dict, **kwargs
    ) -> ModelResponse:
        # Microseconds of string work: no reason to leave the event loop.
        return self.completion(model, messages, model_response, optional_params, **kwargs)

    async def astreaming(
        self, model, messages, model_response: ModelResponse, optional_params: dict, **kwargs
    ) -> AsyncIterator[dict]:
        text, finish_reason = truncate(write(messages), optional_params.get("max_tokens"))
        for number, piece in enumerate(pieces(text)):
            if number and self.between_chunks is not None:
                await self.between_chunks()
            yield {"text": piece, "is_finished": False, "finish_reason": "", "usage": None}
        prompt_tokens = litellm.token_counter(model=TOKENIZER_MODEL, messages=messages)
        completion_tokens = litellm.token_counter(model=TOKENIZER_MODEL, text=text)
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        yield {"text": "", "is_finished": True, "finish_reason": finish_reason, "usage": usage}


HANDLER = OfflineTemplateLLM()


def register() -> None:
    """Make `offline/...` a litellm provider (once per process)."""
    if not any(item.get("provider") == OFFLINE_PROVIDER for item in litellm.custom_provider_map):
        entry = {"provider": OFFLINE_PROVIDER, "custom_handler": HANDLER}
        litellm.custom_provider_map.append(entry)
