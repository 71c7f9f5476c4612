"""The first admin: created at start from ADMIN_USERNAME / ADMIN_PASSWORD when it is absent.

Every worker of every replica runs this at start. The lookup first keeps a restart from paying
for a bcrypt hash; the insert decides races: database-service's unique constraint lets one
creation through and answers the others 409, which only means another process did it.
An existing account is never changed (not its password, not its role): an ordinary account
holding the admin's name is reported, never promoted, since whoever registered it would
become an admin.
"""

import asyncio
import logging

from app import crud
from app.core.config import Settings
from app.core.security import hash_password_async
from servicekit.http import ServiceClient

log = logging.getLogger("user-service.admin")
# A reserved domain (RFC 2606): no one can register an address there, so no account holds it.
ADMIN_EMAIL_DOMAIN = "admin.invalid"


async def ensure_admin(db: ServiceClient, settings: Settings) -> str:
    """Make the configured admin unless its name is taken: "created", "present" or "taken"."""
    username = settings.admin_username
    existing = await crud.get_user_by_username(db, username)
    if existing is None:
        password_hash = await hash_password_async(settings.admin_password, settings.bcrypt_rounds)
        try:
            await crud.create_user(
                db,
                username=username,
                email=f"{username}@{ADMIN_EMAIL_DOMAIN}",
                password_hash=password_hash,
                role="admin",
            )
        except crud.ConflictError:
            existing = await crud.get_user_by_username(db, username)
        else:
            log.info("created the admin account %s", username)
            return "created"
    if existing is not None and existing.role == "admin":
        return "present"
    log.error(
        "ADMIN_USERNAME %s: an ordinary account holds that name (or %s@%s), not an admin; "
        "it was left as it is: choose another ADMIN_USERNAME, or promote that account",
        username,
        username,
        ADMIN_EMAIL_DOMAIN,
    )
    return "taken"


async def keep_trying(db: ServiceClient, settings: Settings) -> None:
    """ensure_admin until database-service answers (it may start after us)."""
    while True:
        try:
            await ensure_admin(db, settings)
            return
        except crud.DatabaseServiceError as exc:
            log.warning(
                "admin account not checked yet (%s); retrying in %gs",
                exc,
                settings.admin_retry_seconds,
            )
            await asyncio.sleep(settings.admin_retry_seconds)
