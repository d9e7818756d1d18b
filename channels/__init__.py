"""Rasa input channels that verify user tokens and pass on only the verified claims."""
from __future__ import annotations

from typing import Any, Optional

from billing_core.auth import verify_token

TOKEN_KEY = "auth_token"


def user_metadata(token: Any) -> dict[str, Any]:
    """The only metadata a channel passes on: ``{"user": {...claims...}}`` or ``{"user": None}``."""
    claims = verify_token(token) if isinstance(token, str) else None
    return {"user": claims.as_metadata() if claims else None}


def token_from(metadata: Any) -> Optional[str]:
    """The ``auth_token`` a client put in its metadata, if it is a non-empty string."""
    if isinstance(metadata, dict):
        token = metadata.get(TOKEN_KEY)
        if isinstance(token, str) and token:
            return token
    return None
