"""Operations for operators (the CLI), run through the same tenant transaction
as the API: provisioning runs as `service_role`, impersonation as the user."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.auth import SERVICE, Principal
from app.db.tenancy import tenant_transaction
from app.http.schemas import SLUG_MAX_LENGTH, SLUG_PATTERN

# Every table the API reads or writes: each must have RLS on and policies.
API_TABLES: tuple[str, ...] = (
    "minds",
    "user_profiles",
    "tags",
    "job_executions",
    "content_frameworks",
    "audience_profiles",
    "content_projects",
    "contents",
    "content_revisions",
    "content_history",
    "content_bodies",
    "content_minds",
    "content_tags",
    "market_research",
    "idempotency_keys",
    "persona_grants",
)


@dataclass(frozen=True)
class ProvisionedMind:
    mind_id: uuid.UUID
    user_id: uuid.UUID
    slug: str
    created: bool


def check_slug(slug: str) -> None:
    """A mind's slug follows the API's slug rule (it appears in URLs)."""
    if len(slug) > SLUG_MAX_LENGTH or not re.fullmatch(SLUG_PATTERN, slug):
        raise ValueError(
            f"--slug {slug!r} is not a slug: lowercase letters and digits, words joined "
            f"by '-', '_' or '.', at most {SLUG_MAX_LENGTH} characters (e.g. ada-lovelace)"
        )


async def provision_mind(
    engine: AsyncEngine, *, slug: str, name: str | None, user_id: uuid.UUID | None
) -> ProvisionedMind:
    """Create a mind and the user profile that links a login to it. Running
    it again for the same slug and user is a no-op (idempotent)."""
    check_slug(slug)
    async with tenant_transaction(engine, SERVICE, read_only=False) as conn:
        existing = (
            await conn.execute(
                text(
                    "SELECT m.id AS mind_id, u.id AS user_id FROM minds m"
                    " LEFT JOIN user_profiles u ON u.mind_id = m.id WHERE m.slug = :slug"
                ),
                {"slug": slug},
            )
        ).first()
        if existing is not None and existing.user_id is not None:
            if user_id is not None and user_id != existing.user_id:
                raise ValueError(f"mind {slug!r} already belongs to user {existing.user_id}")
            return ProvisionedMind(existing.mind_id, existing.user_id, slug, created=False)
        mind_id = existing.mind_id if existing is not None else None
        if mind_id is None:
            mind_id = await conn.scalar(
                text(
                    "INSERT INTO minds (slug, display_name, created_by)"
                    " VALUES (:slug, :name, :created_by) RETURNING id"
                ),
                {"slug": slug, "name": name or slug, "created_by": str(user_id or "")},
            )
        user_id = user_id or uuid.uuid4()
        await conn.execute(
            text("INSERT INTO user_profiles (id, mind_id) VALUES (:user_id, :mind_id)"),
            {"user_id": user_id, "mind_id": mind_id},
        )
        return ProvisionedMind(mind_id, user_id, slug, created=True)


async def run_as(
    engine: AsyncEngine, principal: Principal, sql: str, *, commit: bool
) -> tuple[list[str], list[Sequence[Any]]]:
    """Run one SQL statement exactly as the API would for this principal;
    keep its changes only with `commit`."""
    columns: list[str] = []
    rows: list[Sequence[Any]] = []
    try:
        async with tenant_transaction(engine, principal, read_only=False) as conn:
            # Sent as written: `:word` inside a literal is not a bind parameter.
            result = await conn.exec_driver_sql(sql)
            if result.returns_rows:
                columns, rows = list(result.keys()), list(result.fetchall())
            if not commit:
                raise _RollBack
    except _RollBack:
        pass
    return columns, rows


class _RollBack(Exception):
    """Leaves the tenant transaction by rolling it back."""


async def rls_offenders(conn: AsyncConnection) -> list[str]:
    """API tables missing RLS or policies, each with the reason."""
    rows = await conn.execute(
        text(
            "SELECT t.name, c.relrowsecurity AS rls,"
            " (SELECT count(*) FROM pg_policies p"
            "   WHERE p.schemaname = 'public' AND p.tablename = t.name) AS policies"
            " FROM unnest(CAST(:tables AS text[])) AS t(name)"
            " LEFT JOIN pg_class c ON c.oid = to_regclass('public.' || t.name)"
        ),
        {"tables": list(API_TABLES)},
    )
    offenders = []
    for name, rls, policies in rows:
        if rls is None:
            offenders.append(f"{name}: table missing")
        elif not rls:
            offenders.append(f"{name}: row level security is disabled")
        elif policies == 0:
            offenders.append(f"{name}: no policies (every row hidden; the API cannot use it)")
    return offenders


def as_json(value: Any) -> str:
    return json.dumps(value, default=str, ensure_ascii=False)


# The login role's password is provisioning, not a migration: a secret never
# belongs in the schema's history (nor in `creatoros db sql`'s output).
# `format(%I, %L)` quotes the name and the literal: ALTER ROLE takes no
# parameters.
_ALTER_LOGIN_ROLE = "SELECT format('ALTER ROLE %I WITH LOGIN PASSWORD %L', $1::text, $2::text)"


async def set_login_password(engine: AsyncEngine, role: str, password: str) -> None:
    """Give the API's login role its password (the engine is the superuser's
    or the roles' administrator's), so that a deployment can have the API
    log in as that role over TCP, never as the superuser."""
    async with engine.connect() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        assert raw is not None
        await raw.execute(await raw.fetchval(_ALTER_LOGIN_ROLE, role, password))
