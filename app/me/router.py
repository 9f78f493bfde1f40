"""Who the caller is, and whom it lets name its mind as persona."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from app.auth import AuthenticatedPrincipal
from app.db.sessions import UserReadSession, WriteTransaction
from app.http.caching import CachedRoute
from app.http.ids import MindId
from app.http.pagination import Page, PageQuery
from app.http.problems import NoMind, problem_responses
from app.http.routes import model_page, operation
from app.me import service
from app.me.schemas import Me, PersonaGrant

router = APIRouter(route_class=CachedRoute, tags=["me"], responses=problem_responses(401, 403))


@router.get("/me", **operation("Who the token says you are", "getMe"))
async def get_me(conn: UserReadSession, principal: AuthenticatedPrincipal) -> Me:
    """The caller's user id and role, and the mind the database attributes their work to."""
    mind = await service.current_mind(conn)
    if mind is None or principal.user_id is None:
        raise NoMind(
            "this user has no mind yet; an admin provisions one with `creatoros minds create`"
        )
    return Me(user_id=principal.user_id, role=principal.role, **mind)


@router.get("/me/persona-grants", **operation("List persona grants", "listPersonaGrants", 422))
async def list_persona_grants(conn: UserReadSession, page: PageQuery) -> Page[PersonaGrant]:
    """The grants you gave (`owner_mind_id` is your mind: who may name your mind
    as their projects' persona) and those you hold (`grantee_mind_id` is yours)."""
    return model_page(PersonaGrant, await service.list_grants(conn, filters={}, **page))


@router.put(
    "/me/persona-grants/{mind_id}",
    **operation("Let a mind name yours as persona", "grantPersona", 422, creates=PersonaGrant),
)
async def grant_persona(
    mind_id: MindId, conn: WriteTransaction, response: Response
) -> PersonaGrant:
    """Idempotent (201 the first time, then 200). Until you grant it, another
    creator's project cannot name your mind as its persona (403
    `persona-not-granted`), and you read no project because you are its persona.
    The mind must be one you can see (422 otherwise)."""
    row, created = await service.grant_persona(conn, mind_id)
    if created:
        response.status_code = status.HTTP_201_CREATED
    return PersonaGrant.model_validate(row)


@router.delete(
    "/me/persona-grants/{mind_id}",
    **operation("Revoke a persona grant", "revokePersonaGrant", 404, 422, status_code=204),
)
async def revoke_persona_grant(mind_id: MindId, conn: WriteTransaction) -> None:
    """The mind's projects that name yours as persona are kept (they are its
    creator's), and you stop reading them at once; its creator must clear
    `persona_mind_id` (or get a new grant) before changing such a project."""
    await service.revoke_persona(conn, mind_id)
