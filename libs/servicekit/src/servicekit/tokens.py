"""The platform's access and refresh tokens, as both their issuer and their checkers verify them.

user-service mints the tokens and verifies refresh tokens; the gateway verifies access tokens
on every request. Both must agree on the algorithm, the issuer and how a token is checked, so
that agreement lives here once (services/README.md, "Tokens"); what each does with the claims,
and which error it answers, stays with it.

Needs PyJWT, which both services have.
"""

from collections.abc import Iterable
from typing import Any

import jwt

ALGORITHM = "HS256"
ISSUER = "tiered-platform"


def decode(token: str, secret: str, required: Iterable[str]) -> dict[str, Any]:
    """The claims of `token` once its signature (HS256 under `secret`), issuer and expiry are
    verified and every `required` claim is present. PyJWT's errors propagate:
    ExpiredSignatureError, or another InvalidTokenError saying what is wrong."""
    return jwt.decode(
        token,
        secret,
        algorithms=[ALGORITHM],
        issuer=ISSUER,
        options={"require": list(required)},
    )
