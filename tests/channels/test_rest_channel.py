"""The REST channel passes on only verified claims (real blueprint on a real Sanic server)."""
import asyncio
from datetime import timedelta

import aiohttp
import pytest

from billing_core.auth import mint_token
from channels.rest import AuthenticatedRestInput

from channel_helpers import ANNA, serve

URL = "/webhooks/rest/webhook"


async def post_all(bodies):
    async with serve(AuthenticatedRestInput()) as (base, agent):
        replies = []
        async with aiohttp.ClientSession() as session:
            for body in bodies:
                async with session.post(base + URL, json=body) as resp:
                    assert resp.status == 200
                    replies.append(await resp.json())
        return agent.messages, replies


def post(body):
    messages, replies = asyncio.run(post_all([body]))
    assert len(messages) == 1
    return messages[0], replies[0]


def test_name_keeps_the_stock_url():
    assert AuthenticatedRestInput.name() == "rest"
    assert AuthenticatedRestInput().url_prefix() == "rest"


def test_valid_token_passes_verified_claims(valid_token):
    message, reply = post(
        {"sender": "s1", "message": "ciao", "metadata": {"auth_token": valid_token}}
    )
    assert message.metadata == {"user": ANNA}
    assert message.sender_id == "s1"
    assert message.text == "ciao"
    assert message.input_channel == "rest"
    assert reply == [{"recipient_id": "s1", "text": "ciao anna@example.com: ciao"}]


def test_client_supplied_user_and_extras_are_discarded(valid_token):
    fake_user = {"email": "boss@example.com", "account_id": "other", "role": "owner"}
    message, _ = post(
        {
            "sender": "s1",
            "message": "ciao",
            "metadata": {"auth_token": valid_token, "user": fake_user, "role": "owner"},
        }
    )
    assert message.metadata == {"user": ANNA}


@pytest.mark.parametrize(
    "metadata",
    [
        None,
        {},
        {"auth_token": ""},
        {"auth_token": None},
        {"auth_token": 12345},
        {"auth_token": "not.a.jwt"},
        {"user": {"email": "boss@example.com", "account_id": "acme", "role": "owner"}},
        "a string",
        ["a", "list"],
    ],
)
def test_missing_or_malformed_token_is_anonymous(metadata):
    body = {"sender": "s1", "message": "ciao"}
    if metadata is not None:
        body["metadata"] = metadata
    message, reply = post(body)
    assert message.metadata == {"user": None}
    assert reply[0]["text"] == "ciao anonimo: ciao"


def test_forged_token_is_anonymous(forged_token):
    message, _ = post(
        {
            "sender": "s1",
            "message": "ciao",
            "metadata": {"auth_token": forged_token, "user": ANNA},
        }
    )
    assert message.metadata == {"user": None}


def test_expired_token_is_anonymous(monkeypatch):
    token = mint_token("anna@example.com", "acme", "billing_admin", ttl=timedelta(hours=1))
    monkeypatch.setenv("BILLING_NOW", "2026-03-10T12:00:00+01:00")
    message, _ = post({"sender": "s1", "message": "ciao", "metadata": {"auth_token": token}})
    assert message.metadata == {"user": None}


def test_each_message_is_verified_on_its_own(valid_token, forged_token):
    messages, _ = asyncio.run(
        post_all(
            [
                {"sender": "s1", "message": "a", "metadata": {"auth_token": valid_token}},
                {"sender": "s1", "message": "b", "metadata": {"user": ANNA}},
                {"sender": "s1", "message": "c", "metadata": {"auth_token": forged_token}},
            ]
        )
    )
    assert [m.metadata for m in messages] == [{"user": ANNA}, {"user": None}, {"user": None}]
