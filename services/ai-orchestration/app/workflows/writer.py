"""The brief's last step: ai-provider writes the text from the parts' fact lines."""

from collections.abc import Mapping, Sequence
from typing import Any

from app.clients import Peer
from app.workflows.errors import WorkflowError, detail_of
from app.workflows.prompt import brief_messages


async def write_brief(
    peer: Peer,
    inputs: Mapping[str, Any],
    parts: Mapping[str, Any],
    missing: Sequence[Mapping[str, str]],
    *,
    max_tokens: int,
    headers: Mapping[str, str],
) -> dict:
    """POST /v1/chat/completions (task "brief"); the text and what it cost, or 422 / 502."""
    body = {
        "model": inputs["model"],
        "messages": brief_messages(inputs, parts, missing),
        "task": "brief",
        "temperature": 0,
        "max_tokens": max_tokens,
        # A caller who bypasses our cache wants a new text, not ai-provider's cached one.
        "cache": inputs["cache"],
    }
    response = await peer.client.post("/v1/chat/completions", json=body, headers=dict(headers))
    if response.status_code == 404:
        raise WorkflowError(
            422,
            f"ai-provider does not know model {inputs['model']!r}: {detail_of(response)}",
            available=_field(response, "available"),
        )
    if response.status_code != 200:
        raise WorkflowError(
            502,
            f"ai-provider failed to write the brief ({response.status_code}): "
            f"{detail_of(response)}",
            failures=_field(response, "failures"),
        )
    try:
        completion = response.json()
        text = completion["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise WorkflowError(502, "ai-provider answered without a chat completion") from None
    provider = completion.get("provider") or {}
    return {
        "source": peer.name,
        "text": text,
        "model": provider.get("model") or completion.get("model"),
        "cache": provider.get("cache"),
        "cost_usd": provider.get("cost_usd"),
        "usage": completion.get("usage"),
    }


def _field(response, name: str) -> Any:
    try:
        return response.json().get(name)
    except (ValueError, AttributeError):
        return None
