"""REST channel at ``/webhooks/rest/webhook`` that verifies ``metadata.auth_token``.

The stock channel forwards whatever metadata the client sends. This one replaces it with
``{"user": {"email", "account_id", "role"}}`` for a valid token and ``{"user": None}``
otherwise, so a client-supplied ``user`` (or anything else) never reaches the tracker.
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Text

from rasa.core.channels.rest import RestInput
from sanic.request import Request

from channels import token_from, user_metadata


class AuthenticatedRestInput(RestInput):
    @classmethod
    def name(cls) -> Text:
        return "rest"

    def get_metadata(self, request: Request) -> Optional[Dict[Text, Any]]:
        try:
            body = request.json
        except Exception:  # malformed JSON body
            body = None
        metadata = body.get("metadata") if isinstance(body, dict) else None
        return user_metadata(token_from(metadata))
