"""How a step fails: the whole workflow (an HTTP error) or only its own part (missing)."""

import httpx


class WorkflowError(Exception):
    """A required step failed: the workflow answers `status_code` with `detail`."""

    def __init__(self, status_code: int, detail: str, **extra) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.detail = detail
        self.extra = extra


class PartMissing(Exception):
    """An optional step has nothing to give; the message says why, for a human to act on."""


def detail_of(response: httpx.Response) -> str:
    """A service's own explanation of an error answer: its `detail`, else its body's start."""
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    if detail is None:
        return response.text[:300] or response.reason_phrase
    return detail if isinstance(detail, str) else str(detail)[:500]


def json_of(response: httpx.Response, service: str) -> dict:
    """The JSON object a service answered; PartMissing when it is not one."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise PartMissing(f"{service} answered something that is not a JSON object")
    return body
