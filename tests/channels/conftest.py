"""Fixtures for the channel tests: a fixed secret and clock, a valid and a forged token."""
import pytest

from billing_core.auth import mint_token


@pytest.fixture(autouse=True)
def _auth_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BILLING_AUTH_SECRET", "test-secret-channels-0123456789abcdef0123")
    monkeypatch.setenv("BILLING_NOW", "2026-03-10T10:00:00+01:00")


@pytest.fixture
def valid_token() -> str:
    return mint_token("anna@example.com", "acme", "billing_admin")


@pytest.fixture
def forged_token() -> str:
    return mint_token("anna@example.com", "acme", "owner", secret="attacker-secret-0123456789abcdef01234567")

