"""Signed user tokens (HS256 JWT) for the chat channels.

A token carries who the user is (``sub`` = e-mail), which account they act on (``acc``)
and their role there (``role``). Channels verify it on the server side and pass only the
verified claims on; anything unverifiable means an anonymous user.

"Now" for issuing and expiry is :func:`billing_core.clock.now`, so ``BILLING_NOW`` moves
token expiry together with the rest of the billing code.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Optional

import jwt

from billing_core import clock

logger = logging.getLogger(__name__)

ISSUER = "billing-assistant"
ALGORITHM = "HS256"
SECRET_ENV = "BILLING_AUTH_SECRET"
# Development-only key: anyone reading the repository can mint tokens with it.
_DEV_SECRET = "billing-assistant-dev-secret-do-not-use-in-production"
_REQUIRED_CLAIMS = ("sub", "acc", "role", "iat", "exp", "iss")

_warned_dev_secret = False


@dataclass(frozen=True)
class UserClaims:
    email: str
    account_id: str
    role: str

    def as_metadata(self) -> dict[str, str]:
        return {"email": self.email, "account_id": self.account_id, "role": self.role}


def _secret(secret: Optional[str]) -> str:
    global _warned_dev_secret
    if secret:
        return secret
    from_env = os.environ.get(SECRET_ENV, "")
    if from_env:
        return from_env
    if not _warned_dev_secret:
        _warned_dev_secret = True
        logging.warning(
            "%s is not set: using the built-in development key to sign and verify user "
            "tokens. It must be set to a private random value in production.",
            SECRET_ENV,
        )
    return _DEV_SECRET


def mint_token(
    email: str,
    account_id: str,
    role: str,
    *,
    ttl: timedelta = timedelta(hours=12),
    secret: Optional[str] = None,
) -> str:
    """A signed token for ``email`` acting on ``account_id`` with ``role``."""
    issued = clock.now()
    payload = {
        "sub": email,
        "acc": account_id,
        "role": role,
        "iat": int(issued.timestamp()),
        "exp": int((issued + ttl).timestamp()),
        "iss": ISSUER,
    }
    return jwt.encode(payload, _secret(secret), algorithm=ALGORITHM)


def verify_token(token: Optional[str], *, secret: Optional[str] = None) -> Optional[UserClaims]:
    """The verified claims of ``token``, or None when it cannot be trusted. Never raises.

    None for a missing or empty token, a wrong signature or algorithm, a token expired
    relative to ``clock.now()``, a malformed token, or one missing a claim.
    """
    if not token or not isinstance(token, str):
        return None
    try:
        key = _secret(secret)
        payload: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            # PyJWT checks exp/iat against the real time; we check against clock.now().
            options={
                "require": list(_REQUIRED_CLAIMS),
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
            },
        )
        now_ts = clock.now().timestamp()
        exp = payload["exp"]
        if isinstance(exp, bool) or not isinstance(exp, (int, float)) or now_ts >= exp:
            return None
        nbf = payload.get("nbf")
        if nbf is not None and (not isinstance(nbf, (int, float)) or now_ts < nbf):
            return None
        email, account_id, role = payload["sub"], payload["acc"], payload["role"]
        if not all(isinstance(v, str) and v for v in (email, account_id, role)):
            return None
        return UserClaims(email=email, account_id=account_id, role=role)
    except Exception:  # forged, malformed, wrong issuer, bad clock setting...
        logger.debug("Rejected a user token.", exc_info=True)
        return None
