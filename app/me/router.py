from __future__ import annotations

from fastapi import APIRouter

from app.auth import AuthenticatedPrincipal
from app.db.sessions import UserReadSession
from app.http.bodies import JsonBodyRoute
from app.http.problems import NoMind, problem_responses
from app.http.routes import operation
from app.me import service
from app.me.schemas import Me

router = APIRouter(route_class=JsonBodyRoute, tags=["me"], responses=problem_responses(401, 403))


@router.get("/me", **operation("Who the token says you are", "getMe"))
async def get_me(conn: UserReadSession, principal: AuthenticatedPrincipal) -> Me:
    """The caller's user id and role, and the mind the database attributes their work to."""
    mind = await service.current_mind(conn)
    if mind is None or principal.user_id is None:
        raise NoMind(
            "this user has no mind yet; an admin provisions one with `creatoros minds create`"
        )
    return Me(user_id=principal.user_id, role=principal.role, **mind)
