"""docker-compose.yml's promises, read from the file (no engine runs here):
db → one-shot migrate → two API replicas through PgBouncer in transaction
mode, the API as a non-superuser login role, nothing but the API published,
/metrics behind a token, health checks, and grace periods longer than the
API's drain."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from app.db.engine import LOGIN_ROLE
from app.settings import Settings

pytestmark = pytest.mark.pure

ROOT = Path(__file__).resolve().parent.parent


def _interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's `${VAR}`, `${VAR:-default}`, `${VAR-default}` and
    `${VAR:?message}`, as `docker compose config` resolves them under `env`."""
    if isinstance(value, dict):
        return {k: _interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def one(match: re.Match[str]) -> str:
        name, op, arg = match.group(1), match.group(2) or "", match.group(3) or ""
        if op == ":?" and not env.get(name):
            raise AssertionError(f"compose refuses to start without {name}: {arg}")
        if op == ":-" and not env.get(name):
            return arg
        if op == "-" and name not in env:
            return arg
        return env.get(name, "")

    return re.sub(r"\$\{(\w+)(:-|-|:\?)?([^}]*)\}", one, value)


def compose(env: dict[str, str] | None = None) -> dict[str, Any]:
    raw = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return dict(_interpolate(raw, env or {}))


def _seconds(duration: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    return sum(float(n) * units[u] for n, u in re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h)", duration))


@pytest.mark.parametrize(
    "env",
    [{}, {"AUTHENTICATOR_PASSWORD": "s3cret", "POSTGRES_PASSWORD": "p", "JWT_SECRET": "j" * 40}],
    ids=["defaults", "operator-set"],
)
def test_db_then_migrate_then_two_apis_through_pgbouncer_as_the_login_role(
    env: dict[str, str],
) -> None:
    services = compose(env)["services"]
    assert {"db", "migrate", "pgbouncer", "api"} <= services.keys()
    migrate, bouncer, api = (services[s] for s in ("migrate", "pgbouncer", "api"))

    # The job migrates as the superuser, directly, once, after the database is healthy.
    assert migrate["command"][-2:] == ["db", "upgrade"]
    assert migrate["restart"] == "no"
    assert migrate["depends_on"]["db"]["condition"] == "service_healthy"
    admin = urlsplit(migrate["environment"]["DATABASE_URL"])
    assert admin.hostname == "db"

    # The API: two replicas, after the job succeeded, through PgBouncer.
    assert api["deploy"]["replicas"] == 2
    assert api["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert api["depends_on"]["pgbouncer"]["condition"] == "service_healthy"
    api_env = api["environment"]
    url = urlsplit(api_env["DATABASE_URL"])
    assert url.hostname == "pgbouncer"
    assert url.username == LOGIN_ROLE and url.username != "postgres"
    assert api_env["DB_POOLER_MODE"] == "true"
    assert api_env["MIGRATE_ON_START"] == "false"
    # …with the password the migrate job gives the login role, and PgBouncer knows.
    assert url.password == migrate["environment"]["AUTHENTICATOR_PASSWORD"]
    assert bouncer["environment"]["DB_USER"] == LOGIN_ROLE
    assert bouncer["environment"]["DB_PASSWORD"] == url.password
    assert bouncer["environment"]["DB_HOST"] == "db"
    assert bouncer["environment"]["POOL_MODE"] == "transaction"
    if env:
        assert url.password == env["AUTHENTICATOR_PASSWORD"]
        assert admin.password == env["POSTGRES_PASSWORD"]
        assert api_env["JWT_SECRET"] == env["JWT_SECRET"]


def test_only_the_api_is_published_and_metrics_need_a_token() -> None:
    services = compose()["services"]
    published = {name for name, service in services.items() if service.get("ports")}
    assert published == {"api"}
    assert all(service.get("network_mode") != "host" for service in services.values())
    api_env = compose()["services"]["api"]["environment"]
    assert api_env["METRICS_TOKEN"]
    # The setting the service reads (an unknown name would be silently ignored).
    assert Settings(_env_file=None, metrics_token=api_env["METRICS_TOKEN"]).metrics_token  # type: ignore[call-arg]
    assert {"MIGRATE_ON_START", "DB_POOLER_MODE", "METRICS_TOKEN", "SHUTDOWN_TIMEOUT"} <= {
        name.upper() for name in settings_environment_names()
    }


def settings_environment_names() -> set[str]:
    names = set()
    for field in Settings.model_fields.values():
        alias = field.validation_alias
        names |= {str(choice) for choice in getattr(alias, "choices", ())}
    return names


def test_health_checks_and_grace_periods() -> None:
    services = compose()["services"]
    for name in ("db", "pgbouncer", "api"):
        assert services[name]["healthcheck"]["test"], name
        assert services[name]["restart"] == "unless-stopped", name
    assert "/readyz" in " ".join(services["api"]["healthcheck"]["test"])
    api = services["api"]
    drain = float(api["environment"]["SHUTDOWN_TIMEOUT"])
    # The API drains for SHUTDOWN_TIMEOUT, then closes its pool: SIGKILL must come later.
    assert _seconds(api["stop_grace_period"]) > drain
    for name in ("db", "pgbouncer"):
        # What the API still uses while it drains outlives it.
        assert _seconds(services[name]["stop_grace_period"]) >= _seconds(api["stop_grace_period"])


def test_every_pulled_image_is_pinned_to_a_version() -> None:
    """A pulled image without a version tag (or with `latest`) changes under
    a deployment that did not change: each names its version."""
    for name, service in compose()["services"].items():
        if "build" in service:
            continue
        repository, _, tag = service["image"].rpartition(":")
        assert repository and tag and tag != "latest", f"{name}: {service['image']}"
        assert any(ch.isdigit() for ch in tag), f"{name}: {service['image']} has no version"
