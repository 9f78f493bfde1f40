"""Every kind of bad token is a 401 or 403 problem, never a 500."""

from __future__ import annotations

import base64
import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from app.http.problems import PROBLEM_MEDIA_TYPE
from app.main import create_app
from app.settings import Settings
from tests.factories import Creator
from tests.helpers import TEST_JWT_SECRET, client_for


def sign(claims: dict[str, Any], key: Any = TEST_JWT_SECRET, alg: str = "HS256", **kw: Any) -> str:
    return jwt.encode(claims, key, algorithm=alg, **kw)


def claims_for(creator: Creator, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {"sub": str(creator.user_id), "role": "authenticated", "aud": "authenticated",
            "iat": now, "exp": now + 600}  # fmt: skip
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def unsigned(claims: dict[str, Any]) -> str:
    def part(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


BAD_TOKENS = {
    "expired": lambda c: sign(claims_for(c, exp=int(time.time()) - 3600)),
    "not yet valid": lambda c: sign(claims_for(c, nbf=int(time.time()) + 3600)),
    "wrong audience": lambda c: sign(claims_for(c, aud="someone-else")),
    "no expiry": lambda c: sign(claims_for(c, exp=None)),
    "wrong signature": lambda c: sign(claims_for(c), key="another-secret-of-enough-length-000000"),
    "alg none": lambda c: unsigned(claims_for(c)),
    "garbage": lambda c: "not-a-jwt",
    "three garbage parts": lambda c: "a.b.c",
    "sub not a uuid": lambda c: sign(claims_for(c, sub="alice")),
    "authenticated without sub": lambda c: sign(claims_for(c, sub=None)),
    "RS256 with an HMAC secret configured": lambda c: sign(
        claims_for(c), rsa.generate_private_key(public_exponent=65537, key_size=2048), "RS256"
    ),
}
FORBIDDEN_TOKENS = {
    "forged role postgres": lambda c: sign(claims_for(c, role="postgres")),
    "forged role authenticator": lambda c: sign(claims_for(c, role="authenticator")),
    "role not a string": lambda c: sign(claims_for(c, role=["service_role"])),
}


@pytest.mark.parametrize("case", sorted(BAD_TOKENS))
async def test_bad_tokens_are_401(client: httpx.AsyncClient, alice: Creator, case: str) -> None:
    token = BAD_TOKENS[case](alice)
    response = await client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    # RFC 6750: a token was sent and is unusable, so the client should get
    # a new one rather than retry (a malformed header is invalid_request).
    assert response.headers["www-authenticate"] == 'Bearer realm="creatoros", error="invalid_token"'
    assert "Traceback" not in response.text


async def test_without_credentials_the_challenge_has_no_error_code(
    client: httpx.AsyncClient,
) -> None:
    """RFC 6750, 3.1: a request with no authentication gets the challenge
    alone; a header that is not `Bearer <token>` is an invalid request."""
    bare = await client.get("/v1/me")
    assert bare.status_code == 401
    assert bare.headers["www-authenticate"] == 'Bearer realm="creatoros"'
    malformed = await client.get("/v1/me", headers={"Authorization": "Basic dXNlcjpwdw=="})
    assert malformed.status_code == 401
    assert (
        malformed.headers["www-authenticate"] == 'Bearer realm="creatoros", error="invalid_request"'
    )


@pytest.mark.parametrize("case", sorted(FORBIDDEN_TOKENS))
async def test_roles_outside_the_allow_list_are_403(
    client: httpx.AsyncClient, alice: Creator, case: str
) -> None:
    token = FORBIDDEN_TOKENS[case](alice)
    response = await client.get("/v1/projects", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403, response.text
    assert response.json()["detail"].startswith("the token's role is not one of")


@pytest.mark.parametrize(
    "header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer  ", "Token abc", "bearer"]
)
async def test_malformed_authorization_headers_are_401(
    client: httpx.AsyncClient, header: str
) -> None:
    response = await client.get("/v1/me", headers={"Authorization": header})
    assert response.status_code == 401, response.text


async def test_no_token_is_401_where_a_user_is_needed(client: httpx.AsyncClient) -> None:
    # (Published projects, contents and trees are public reads: see test_public_reads.)
    for path in ("/v1/me", "/v1/frameworks", "/v1/audiences"):
        response = await client.get(path)
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")


async def test_a_valid_token_within_the_leeway_is_accepted(
    client: httpx.AsyncClient, alice: Creator
) -> None:
    token = sign(claims_for(alice, exp=int(time.time()) - 5))
    response = await client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200


async def test_a_user_without_a_mind_gets_a_clear_403(client: httpx.AsyncClient) -> None:
    stranger = jwt.encode(
        {"sub": str(uuid.uuid4()), "role": "authenticated", "aud": "authenticated",
         "exp": int(time.time()) + 600},
        TEST_JWT_SECRET, algorithm="HS256",
    )  # fmt: skip
    headers = {"Authorization": f"Bearer {stranger}"}
    me = await client.get("/v1/me", headers=headers)
    assert me.status_code == 403
    assert "no mind" in me.json()["detail"]
    create = await client.post(
        "/v1/projects", headers=headers,
        json={"slug": "x", "name": "X", "project_type": "course"},
    )  # fmt: skip
    assert create.status_code == 403
    assert "no mind" in create.json()["detail"]


async def test_asymmetric_keys_from_a_jwks_file(
    tmp_path: Path, api_url: str, alice: Creator
) -> None:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    jwks_file = tmp_path / "jwks.json"
    jwks_file.write_text(json.dumps({"keys": [{**jwk, "kid": "k1", "use": "sig"}]}))
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=tmp_path, jwt_jwks_file=jwks_file, jwt_issuer="https://issuer.test",
    )  # fmt: skip
    good = sign(
        claims_for(alice, iss="https://issuer.test"), private, "RS256", headers={"kid": "k1"}
    )
    wrong_issuer = sign(claims_for(alice, iss="https://evil.test"), private, "RS256",
                        headers={"kid": "k1"})  # fmt: skip
    hmac_now_unconfigured = sign(claims_for(alice, iss="https://issuer.test"))
    async for client in client_for(create_app(settings, database_url=api_url)):
        ok = await client.get("/v1/me", headers={"Authorization": f"Bearer {good}"})
        assert ok.status_code == 200, ok.text
        assert ok.json()["mind_slug"] == "alice"
        for token in (wrong_issuer, hmac_now_unconfigured):
            refused = await client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
            assert refused.status_code == 401, refused.text


def _es256_token_with_rsa_header_key(creator: Creator, kid: str | None) -> str:
    """An ES256 token (any EC key: no valid signature is needed to reach the check)."""
    from cryptography.hazmat.primitives.asymmetric import ec

    headers = {"kid": kid} if kid else {}
    return sign(claims_for(creator), ec.generate_private_key(ec.SECP256R1()), "ES256",
                headers=headers)  # fmt: skip


@pytest.mark.parametrize("kid", ["k1", None])
async def test_a_key_that_does_not_fit_the_algorithm_is_a_401(
    tmp_path: Path, api_url: str, alice: Creator, kid: str | None
) -> None:
    """Issue 9: `alg: ES256` against a JWKS holding an RSA key answered 500
    on every endpoint; and the reverse, an RS256 token against an EC key."""
    from cryptography.hazmat.primitives.asymmetric import ec

    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rsa_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key.public_key()))
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ec_jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(ec_key.public_key()))
    jwks_file = tmp_path / "jwks.json"
    jwks_file.write_text(json.dumps({"keys": [{**rsa_jwk, "kid": "k1"}, {**ec_jwk, "kid": "k2"}]}))
    settings = Settings(_env_file=None, data_dir=tmp_path, jwt_jwks_file=jwks_file)  # type: ignore[call-arg]
    es256_on_rsa = _es256_token_with_rsa_header_key(alice, kid)
    rs256_on_ec = sign(claims_for(alice), rsa_key, "RS256", headers={"kid": "k2"})
    good_es256 = sign(claims_for(alice), ec_key, "ES256", headers={"kid": "k2"})
    async for client in client_for(create_app(settings, database_url=api_url)):
        for token in (es256_on_rsa, rs256_on_ec):
            for path in ("/v1/me", "/v1/projects"):
                refused = await client.get(path, headers={"Authorization": f"Bearer {token}"})
                assert refused.status_code == 401, refused.text
                assert refused.headers["content-type"] == PROBLEM_MEDIA_TYPE
        ok = await client.get("/v1/me", headers={"Authorization": f"Bearer {good_es256}"})
        assert ok.status_code == 200, ok.text
