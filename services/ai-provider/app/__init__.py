"""ai-provider: an OpenAI-compatible API in front of many model providers, through litellm.

litellm reads these variables when it is imported, so they are set here, before any module of
the service can import it: prices come from the package's bundled map (never downloaded),
nothing litellm would fetch on its own is fetched, and its telemetry is off. They are forced,
not defaulted: this service must never phone home, whatever the environment says.
"""

import os

os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
os.environ["LITELLM_OFFLINE_MODE"] = "true"
os.environ["LITELLM_TELEMETRY_DISABLED"] = "true"
