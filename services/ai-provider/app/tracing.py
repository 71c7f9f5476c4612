"""Tracing to Langfuse through litellm's callback, only when both Langfuse keys are set.

litellm offers two Langfuse callbacks: "langfuse" drives the langfuse SDK and refuses
langfuse 5 (it supports >=4.7,<5), "langfuse_otel" sends OpenTelemetry spans to Langfuse's
OTLP endpoint (LANGFUSE_HOST/api/public/otel) without the SDK. This uses "langfuse_otel".
Spans leave from a background thread (OpenTelemetry's batch processor), so an unreachable
Langfuse costs a logged export error, never a failed request. Without the keys nothing is
registered and nothing leaves the process.
"""

import logging
import os

import litellm

from app.core.config import Settings

log = logging.getLogger("ai-provider.tracing")

CALLBACK = "langfuse_otel"
FLUSH_MILLIS = 2_000
# Where litellm keeps callbacks once it has turned names into loggers.
CALLBACK_LISTS = (
    "callbacks",
    "success_callback",
    "failure_callback",
    "_async_success_callback",
    "_async_failure_callback",
)


def enabled(settings: Settings) -> bool:
    return bool(settings.langfuse_public_key and settings.langfuse_secret_key)


def start(settings: Settings) -> str:
    """Register the callback when the keys are set; "langfuse" or "off" for /stats."""
    if not enabled(settings):
        return "off"
    # litellm's logger reads these from the environment when it is created.
    os.environ["LANGFUSE_PUBLIC_KEY"] = settings.langfuse_public_key or ""
    os.environ["LANGFUSE_SECRET_KEY"] = settings.langfuse_secret_key or ""
    if settings.langfuse_host:
        os.environ["LANGFUSE_HOST"] = settings.langfuse_host
    if CALLBACK not in litellm.callbacks:
        litellm.callbacks = [*litellm.callbacks, CALLBACK]
    log.info("tracing to Langfuse at %s", settings.langfuse_host or "Langfuse cloud")
    return "langfuse"


def _loggers() -> list:
    """litellm's live Langfuse loggers (it turns the callback's name into objects)."""
    from litellm.integrations.langfuse.langfuse_otel import LangfuseOtelLogger

    seen = [*litellm.callbacks, *litellm._async_success_callback, *litellm.success_callback]
    unique = {id(cb): cb for cb in seen if isinstance(cb, LangfuseOtelLogger)}
    return list(unique.values())


def stop() -> None:
    """Send what is buffered (bounded wait) and unregister the callback."""
    loggers = _loggers()
    for logger in loggers:
        provider = getattr(logger, "_tracer_provider", None)
        if provider is None or not hasattr(provider, "shutdown"):
            continue
        try:
            provider.force_flush(FLUSH_MILLIS)
            # Stops the exporter's thread, which would otherwise go on retrying an
            # unreachable Langfuse after the app is gone.
            provider.shutdown()
        except Exception:
            log.warning("could not flush traces to Langfuse", exc_info=True)
    for name in CALLBACK_LISTS:
        kept = [cb for cb in getattr(litellm, name) if cb != CALLBACK and cb not in loggers]
        setattr(litellm, name, kept)
