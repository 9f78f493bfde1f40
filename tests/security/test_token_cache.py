"""Verified tokens are cached by their bytes, but never past `exp`."""

from __future__ import annotations

import time
import uuid

import pytest
from pydantic import SecretStr

from app import auth
from app.auth import LEEWAY_SECONDS, TokenVerifier, mint_token
from app.http.problems import ProblemError
from app.settings import Settings

pytestmark = pytest.mark.pure

SECRET = "a-secret-long-enough-for-hs256-0123456789abcdef"


def verifier() -> TokenVerifier:
    return TokenVerifier(Settings(_env_file=None, jwt_secret=SecretStr(SECRET)))  # type: ignore[call-arg]


def test_a_cached_token_still_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    v = verifier()
    user = uuid.uuid4()
    token = mint_token(SECRET, user_id=user, ttl_seconds=60)
    calls = 0
    real = v._verify

    def counted(t: str) -> auth.Principal:
        nonlocal calls
        calls += 1
        return real(t)

    monkeypatch.setattr(v, "_verify", counted)
    assert v.verify(token).user_id == user
    assert v.verify(token).user_id == user
    assert calls == 1  # the second answer came from the cache

    # Past exp (and the leeway) the cache no longer answers: the token goes
    # through the full verification again, which refuses expired tokens
    # (tests/security/test_tokens.py). Only the cache's clock is moved here.
    now = time.time()
    monkeypatch.setattr(auth.time, "time", lambda: now + 60 + LEEWAY_SECONDS + 5)
    v.verify(token)
    assert calls == 2


def test_bad_tokens_are_not_cached() -> None:
    v = verifier()
    forged = mint_token("another-secret-long-enough-for-hs256-0123456789", user_id=uuid.uuid4())
    for _ in range(2):
        with pytest.raises(ProblemError):
            v.verify(forged)
    assert forged not in v._verified


def test_the_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth, "VERIFIED_CACHE_SIZE", 3)
    v = verifier()
    tokens = [mint_token(SECRET, user_id=uuid.uuid4(), extra={"n": i}) for i in range(5)]
    for token in tokens:
        v.verify(token)
    assert list(v._verified) == tokens[2:]
