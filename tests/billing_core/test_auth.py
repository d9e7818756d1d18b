import logging
import warnings
from datetime import timedelta

import jwt
import pytest

from billing_core import auth
from billing_core.auth import UserClaims, mint_token, verify_token

NOW = "2026-03-10T10:00:00+01:00"


@pytest.fixture(autouse=True)
def _env(monkeypatch):
    monkeypatch.setenv("BILLING_AUTH_SECRET", "test-secret-0123456789abcdef0123456789")
    monkeypatch.setenv("BILLING_NOW", NOW)


def test_round_trip():
    token = mint_token("anna@example.com", "acme", "owner")
    assert verify_token(token) == UserClaims("anna@example.com", "acme", "owner")


def test_claims_and_expiry_follow_the_billing_clock():
    token = mint_token("anna@example.com", "acme", "owner", ttl=timedelta(hours=2))
    payload = jwt.decode(token, options={"verify_signature": False})
    assert payload["sub"] == "anna@example.com"
    assert payload["acc"] == "acme"
    assert payload["role"] == "owner"
    assert payload["iss"] == "billing-assistant"
    assert payload["exp"] - payload["iat"] == 7200
    # 2026-03-10T10:00:00+01:00
    assert payload["iat"] == 1773133200
    assert jwt.get_unverified_header(token)["alg"] == "HS256"


def test_expired_when_the_clock_moves_past_exp(monkeypatch):
    token = mint_token("anna@example.com", "acme", "owner", ttl=timedelta(hours=1))
    monkeypatch.setenv("BILLING_NOW", "2026-03-10T10:59:00+01:00")
    assert verify_token(token) is not None
    monkeypatch.setenv("BILLING_NOW", "2026-03-10T11:00:00+01:00")
    assert verify_token(token) is None
    monkeypatch.setenv("BILLING_NOW", "2026-03-11")
    assert verify_token(token) is None


def test_valid_under_billing_now_even_if_real_time_is_past_expiry(monkeypatch):
    # PyJWT would compare with the real time; the billing clock is what counts.
    monkeypatch.setenv("BILLING_NOW", "2001-01-01T10:00:00+01:00")
    token = mint_token("anna@example.com", "acme", "owner", ttl=timedelta(minutes=5))
    assert verify_token(token) == UserClaims("anna@example.com", "acme", "owner")


def test_forged_signature():
    token = mint_token("anna@example.com", "acme", "member")
    header, payload, signature = token.split(".")
    forged_payload = jwt.utils.base64url_encode(
        b'{"sub":"anna@example.com","acc":"acme","role":"owner","iat":1773133200,'
        b'"exp":1900000000,"iss":"billing-assistant"}'
    ).decode()
    assert verify_token(f"{header}.{forged_payload}.{signature}") is None
    tampered_sig = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    assert verify_token(f"{header}.{payload}.{tampered_sig}") is None


def test_wrong_secret(monkeypatch):
    token = mint_token("anna@example.com", "acme", "owner", secret="another-secret-0123456789abcdef0123456789")
    assert verify_token(token) is None
    assert verify_token(token, secret="another-secret-0123456789abcdef0123456789") is not None
    monkeypatch.setenv("BILLING_AUTH_SECRET", "rotated-secret-0123456789abcdef0123456789")
    assert verify_token(mint_token("anna@example.com", "acme", "owner", secret="test-secret-0123456789abcdef0123456789")) is None


def test_unsigned_and_other_algorithms_are_refused():
    claims = {"sub": "a@b.it", "acc": "acme", "role": "owner", "iat": 1773133200,
              "exp": 1900000000, "iss": "billing-assistant"}
    assert verify_token(jwt.encode(claims, None, algorithm="none")) is None
    with warnings.catch_warnings():  # the key is short for HS512; irrelevant here
        warnings.simplefilter("ignore")
        hs512 = jwt.encode(claims, "test-secret-0123456789abcdef0123456789", algorithm="HS512")
    assert verify_token(hs512) is None
    assert verify_token(jwt.encode(claims, "test-secret-0123456789abcdef0123456789", algorithm="HS256")) is not None


@pytest.mark.parametrize(
    "token",
    [None, "", "   ", "abc", "a.b.c", "a.b", "....", "ünïcode.tøken.x", 42, b"bytes", {"t": 1}],
)
def test_missing_or_malformed(token):
    assert verify_token(token) is None


@pytest.mark.parametrize("missing", ["sub", "acc", "role", "exp", "iat", "iss"])
def test_missing_claim(missing):
    claims = {"sub": "a@b.it", "acc": "acme", "role": "owner", "iat": 1773133200,
              "exp": 1900000000, "iss": "billing-assistant"}
    del claims[missing]
    assert verify_token(jwt.encode(claims, "test-secret-0123456789abcdef0123456789", algorithm="HS256")) is None


@pytest.mark.parametrize(
    "change",
    [{"iss": "someone-else"}, {"sub": ""}, {"acc": 7}, {"role": None}, {"exp": "tomorrow"}],
)
def test_bad_claim_values(change):
    claims = {"sub": "a@b.it", "acc": "acme", "role": "owner", "iat": 1773133200,
              "exp": 1900000000, "iss": "billing-assistant", **change}
    assert verify_token(jwt.encode(claims, "test-secret-0123456789abcdef0123456789", algorithm="HS256")) is None


def test_invalid_billing_now_does_not_raise(monkeypatch):
    token = mint_token("anna@example.com", "acme", "owner")
    monkeypatch.setenv("BILLING_NOW", "not-a-date")
    assert verify_token(token) is None


def test_dev_key_when_secret_unset_warns_once(monkeypatch, caplog):
    monkeypatch.delenv("BILLING_AUTH_SECRET")
    monkeypatch.setattr(auth, "_warned_dev_secret", False)
    with caplog.at_level(logging.WARNING):
        token = mint_token("anna@example.com", "acme", "owner")
        assert verify_token(token) == UserClaims("anna@example.com", "acme", "owner")
    warnings = [r for r in caplog.records if "BILLING_AUTH_SECRET" in r.getMessage()]
    assert len(warnings) == 1
    assert "production" in warnings[0].getMessage()
    # a token signed with the dev key is worthless once a real secret is set
    monkeypatch.setenv("BILLING_AUTH_SECRET", "test-secret-0123456789abcdef0123456789")
    assert verify_token(token) is None
