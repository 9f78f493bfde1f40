"""JWT verification: who is calling, as a `Principal` the database can trust.

The service authenticates; PostgreSQL authorizes. So all this module decides
is whether a token is genuine and current, and which of the three API roles
it asks for. Everything else (which rows) is row level security's job.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import cached_property
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param
from starlette.types import Scope

from app.http.docs import BEARER
from app.http.problems import InvalidToken, RoleNotAllowed, ServiceUnavailable
from app.settings import Settings

log = logging.getLogger(__name__)

ANON, AUTHENTICATED, SERVICE_ROLE = "anon", "authenticated", "service_role"
API_ROLES = frozenset({ANON, AUTHENTICATED, SERVICE_ROLE})
SYMMETRIC_ALGORITHMS = ("HS256",)
ASYMMETRIC_ALGORITHMS = ("RS256", "ES256")
LEEWAY_SECONDS = 30
VERIFIED_CACHE_SIZE = 4096


@dataclass(frozen=True)
class Principal:
    """The verified caller: a role from the allow-list and the token's claims."""

    role: str
    claims: dict[str, Any] = field(default_factory=dict)

    # Computed once per principal (a verified token's principal is cached
    # with it): every request reads both.
    @cached_property
    def user_id(self) -> uuid.UUID | None:
        try:
            return uuid.UUID(str(self.claims["sub"]))
        except (KeyError, ValueError):
            return None

    @cached_property
    def claims_json(self) -> str:
        """What `request.jwt.claims` holds: the claims, plus the role PostgREST-style."""
        return json.dumps({**self.claims, "role": self.role}, separators=(",", ":"))


ANONYMOUS = Principal(role=ANON)


def unauthorized(detail: str, error: str = "invalid_token") -> InvalidToken:
    """A token (or Authorization header) was sent and cannot be used."""
    return InvalidToken(detail, error=error)


class TokenVerifier:
    """Checks signature, `exp`, `nbf`, `aud` and `iss` against the settings."""

    def __init__(self, settings: Settings) -> None:
        self._secret = settings.jwt_secret.get_secret_value() if settings.jwt_secret else None
        self._audience = settings.jwt_audience
        self._issuer = settings.jwt_issuer
        self._verified: OrderedDict[str, tuple[Principal, float]] = OrderedDict()
        self._jwks_client: jwt.PyJWKClient | None = None
        self._jwks_file: jwt.PyJWKSet | None = None
        if settings.jwt_jwks_url:
            # Keys are cached and refetched on an unknown `kid` (key rotation).
            self._jwks_client = jwt.PyJWKClient(settings.jwt_jwks_url, cache_keys=True)
        if settings.jwt_jwks_file:
            self._jwks_file = jwt.PyJWKSet.from_json(settings.jwt_jwks_file.read_text())

    @property
    def algorithms(self) -> tuple[str, ...]:
        algorithms: tuple[str, ...] = ()
        if self._secret:
            algorithms += SYMMETRIC_ALGORITHMS
        if self._jwks_client or self._jwks_file:
            algorithms += ASYMMETRIC_ALGORITHMS
        return algorithms

    def _key(self, token: str, algorithm: str) -> Any:
        """The key that may verify this token: for a JWKS, one whose `kid`
        matches (when the token names one) and whose type fits the header's
        algorithm. An RSA key offered for `ES256` (or the reverse) is an
        unknown key, a 401, never a crash in the signature check."""
        if algorithm in SYMMETRIC_ALGORITHMS:
            return self._secret
        if self._jwks_file is not None:
            kid = jwt.get_unverified_header(token).get("kid")
            for key in self._jwks_file.keys:
                if (kid is None or key.key_id == kid) and key.algorithm_name == algorithm:
                    return key.key
            raise unauthorized(f"no signing key for this token ({algorithm}, kid {kid!r})")
        assert self._jwks_client is not None
        try:
            found = self._jwks_client.get_signing_key_from_jwt(token)
        except jwt.PyJWKClientConnectionError as exc:
            log.error("cannot fetch the JWKS: %s", exc)
            raise ServiceUnavailable("the signing keys cannot be fetched right now") from exc
        except (jwt.PyJWKClientError, jwt.PyJWTError) as exc:
            raise unauthorized("the token is signed with an unknown key") from exc
        if found.algorithm_name != algorithm:
            raise unauthorized(f"the token's key is not a {algorithm} key")
        return found.key

    def verify(self, token: str) -> Principal:
        """The token's principal; a token verified before is answered from a
        bounded cache until its `exp` (plus the leeway every check allows):
        scripts send the same token for hours, and a signature check plus
        claim validation is the largest CPU cost of a small request."""
        now = time.time()
        cached = self._verified.get(token)
        if cached is not None:
            principal, valid_until = cached
            if now <= valid_until:
                self._verified.move_to_end(token)
                return principal
            del self._verified[token]
        principal = self._verify(token)
        exp = principal.claims.get("exp")
        if isinstance(exp, int | float) and not isinstance(exp, bool):
            self._verified[token] = (principal, exp + LEEWAY_SECONDS)
            if len(self._verified) > VERIFIED_CACHE_SIZE:
                self._verified.popitem(last=False)
        return principal

    def _verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as exc:
            raise unauthorized("the bearer token is not a JWT") from exc
        algorithm = header.get("alg")
        # The allow-list comes from the configuration, never from the token:
        # `none` and algorithm confusion (an RSA public key used as an HMAC
        # secret) are refused here.
        if algorithm not in self.algorithms:
            raise unauthorized(f"tokens signed with {algorithm!r} are not accepted")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._key(token, algorithm),
                algorithms=[algorithm],
                audience=self._audience,
                issuer=self._issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise unauthorized("the token has expired") from exc
        except jwt.ImmatureSignatureError as exc:
            raise unauthorized("the token is not valid yet") from exc
        except jwt.InvalidAudienceError as exc:
            raise unauthorized(f"the token's audience is not {self._audience!r}") from exc
        except jwt.InvalidIssuerError as exc:
            raise unauthorized("the token's issuer is not accepted") from exc
        except jwt.InvalidTokenError as exc:
            raise unauthorized(f"the token is not valid: {exc}") from exc
        except (jwt.PyJWTError, TypeError, ValueError) as exc:
            # A key that does not fit the algorithm, a malformed key: the
            # token cannot be verified, which is the caller's 401.
            raise unauthorized("the token cannot be verified with the configured keys") from exc
        return principal_from_claims(claims)


def principal_from_claims(claims: dict[str, Any]) -> Principal:
    # As in PostgREST, a token without a role claim acts as the anonymous role.
    role = claims.get("role", ANON)
    if not isinstance(role, str) or role not in API_ROLES:
        raise RoleNotAllowed("the token's role is not one of anon, authenticated, service_role")
    if role == AUTHENTICATED:
        try:
            uuid.UUID(str(claims.get("sub")))
        except ValueError as exc:
            raise unauthorized("an authenticated token needs a UUID `sub` claim") from exc
    return Principal(role=role, claims=claims)


class BearerPrincipal(HTTPBearer):
    """The caller, as one FastAPI security dependency: the `HTTPBearer`
    scheme the OpenAPI document shows, and the token's verification. (FastAPI
    solves every dependency of a request anew, cached or not; a scheme and a
    separate verifying dependency cost a content get a measurable share.)
    No token means the anonymous role."""

    async def __call__(self, request: Request) -> Principal:  # type: ignore[override]
        credentials = await super().__call__(request)
        if credentials is None:
            if request.headers.get("authorization"):
                raise unauthorized(
                    "the Authorization header must be `Bearer <token>`", "invalid_request"
                )
            return ANONYMOUS
        verifier: TokenVerifier = request.app.state.token_verifier
        return verifier.verify(credentials.credentials)


def signed_in(scope: Scope) -> bool:
    """Whether the request carries a signed-in user's valid token (role
    authenticated or service_role), read from the raw request before any of
    its body is: the body limits depend on it (`app.http.limits.BodyGuard`).
    A bad token raises the problem `get_principal` would (401/403); no token,
    or an anon one, is False. The verified token is cached, so the
    dependency's own check of it costs a lookup."""
    authorization = None
    for name, value in scope["headers"]:
        if name == b"authorization":
            authorization = value.decode("latin-1")
            break
    if not authorization:
        return False
    scheme, token = get_authorization_scheme_param(authorization)
    if scheme.lower() != "bearer" or not token:
        raise unauthorized("the Authorization header must be `Bearer <token>`", "invalid_request")
    verifier: TokenVerifier = scope["app"].state.token_verifier
    return verifier.verify(token).role != ANON


get_principal = BearerPrincipal(
    auto_error=False,
    scheme_name=BEARER,
    description="A JWT: Supabase's access token, or one from `creatoros token`.",
)


async def require_user(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
    """For endpoints that make no sense anonymously: 401 without a token."""
    if principal.role == ANON:
        # No credentials worth a code (RFC 6750, 3.1): the challenge only.
        raise InvalidToken(
            "this endpoint needs a signed-in user's bearer token "
            "(role authenticated or service_role; anonymous callers may only read published work)"
        )
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]
AuthenticatedPrincipal = Annotated[Principal, Depends(require_user)]
# Public reads (a course page, `app.db.sessions.ReadSession`): no token, or an
# anon token, reads as `anon`, and row level security shows published work
# only. PUBLIC_READ tells the OpenAPI document the token is optional there:
# FastAPI appends `{}` (no security at all) to the bearer requirement.
PUBLIC_READ: dict[str, Any] = {"security": [{}]}


def mint_token(
    secret: str,
    *,
    user_id: uuid.UUID | None,
    role: str = AUTHENTICATED,
    ttl_seconds: int = 3600,
    audience: str = "authenticated",
    issuer: str | None = None,
    extra: dict[str, Any] | None = None,
) -> str:
    """An HS256 token as Supabase would issue it (for scripts and development)."""
    now = int(time.time())
    claims: dict[str, Any] = {"role": role, "aud": audience, "iat": now, "exp": now + ttl_seconds}
    if user_id is not None:
        claims["sub"] = str(user_id)
    if issuer:
        claims["iss"] = issuer
    claims.update(extra or {})
    return jwt.encode(claims, secret, algorithm="HS256")


# Principals made by the service itself (the search indexer, operator commands),
# not read from a token.
SERVICE = Principal(role=SERVICE_ROLE, claims={"role": SERVICE_ROLE})


def principal_for(user_id: uuid.UUID | None, role: str = AUTHENTICATED) -> Principal:
    """The principal a verified token for this user and role would give."""
    claims: dict[str, Any] = {"role": role, "aud": "authenticated"}
    if user_id is not None:
        claims["sub"] = str(user_id)
    return Principal(role=role, claims=claims)
