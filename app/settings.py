"""Every knob of the service, read once from the environment (or a `.env` file).

The environment names are an interface: scripts, docker-compose and the README
rely on them, so each field names its variable explicitly.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def _env(name: str) -> AliasChoices:
    return AliasChoices(name, name.lower())


def _from_env(name: str, default: Any, description: str | None = None, **constraints: Any) -> Any:
    """A setting read from the environment variable `name` (or its lower-case
    form): the variable is named explicitly, as it is an interface.
    `constraints` are `Field`'s (`ge`, `le`, …)."""
    return Field(
        default=default, validation_alias=_env(name), description=description, **constraints
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    database_url: str | None = _from_env(
        "DATABASE_URL",
        None,
        "PostgreSQL URL. Unset: an embedded PostgreSQL in CREATOROS_DATA_DIR.",
    )
    data_dir: Path = _from_env(
        "CREATOROS_DATA_DIR",
        Path(".creatoros"),
        "Embedded database files and the generated development JWT secret.",
    )
    database_read_url: str | None = _from_env(
        "DATABASE_READ_URL",
        None,
        "Streaming read replicas of DATABASE_URL's primary, comma-separated URLs: "
        "read-only requests run there (a read carrying a write's consistency token "
        "only once the replica has replayed it); unset: everything on the primary.",
    )
    otel_exporter_otlp_endpoint: str | None = _from_env(
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        None,
        "OpenTelemetry collector (OTLP/HTTP, e.g. http://collector:4318): traces of "
        "requests and their SQL. Needs the `otel` extra; unset: tracing is off.",
    )
    otel_service_name: str = _from_env("OTEL_SERVICE_NAME", "creatoros-api")
    jwt_secret: SecretStr | None = _from_env(
        "JWT_SECRET", None, "HS256 secret (Supabase's legacy JWT secret)."
    )
    jwt_jwks_url: str | None = _from_env("JWT_JWKS_URL", None)
    jwt_jwks_file: Path | None = _from_env("JWT_JWKS_FILE", None)
    jwt_audience: str = _from_env("JWT_AUDIENCE", "authenticated")
    jwt_issuer: str | None = _from_env("JWT_ISSUER", None)
    db_pool_size: int = _from_env("DB_POOL_SIZE", 10, ge=1, le=200)
    migrate_on_start: bool = _from_env(
        "MIGRATE_ON_START",
        True,
        "`serve` migrates a database that is behind before serving (under an advisory "
        "lock: one process migrates, the others wait). `false` where a deploy step runs "
        "`creatoros db upgrade` and the API's login role may not change the schema.",
    )
    db_pooler_mode: bool = _from_env(
        "DB_POOLER_MODE",
        False,
        "Behind a transaction-mode pooler (PgBouncer, Supavisor): "
        "no server-side prepared statement cache.",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        validation_alias=_env("CORS_ORIGINS"),
        description="Comma-separated origins allowed by CORS.",
    )
    # The largest body a request may send (413 beyond, before it is read
    # whole). The largest legitimate one is a whole course: 5,000 nodes
    # (the tree's own cap) with 1 KB bodies is ~7 MB of JSON, which 16 MiB
    # takes with room for ~3 KB bodies. Its purpose is memory: a request holds
    # about 5x its body while it is parsed, validated and sent on (the bytes,
    # the parsed JSON, the models, the statement's parameters), so ~80 MB
    # at the limit, per concurrent write.
    max_body_bytes: int = _from_env("MAX_BODY_BYTES", 16 * 1024 * 1024, ge=1024)
    authenticator_password: SecretStr | None = _from_env(
        "AUTHENTICATOR_PASSWORD",
        None,
        "`creatoros db upgrade` sets it as the password of the API's login role "
        "(`authenticator`), so the API can log in as that role (compose's migrate job).",
    )
    metrics_token: SecretStr | None = _from_env(
        "METRICS_TOKEN",
        None,
        "When set, /metrics answers only `Authorization: Bearer <METRICS_TOKEN>` (401 "
        "otherwise); unset, it is open (keep it on a private network).",
    )
    # What a request without a signed-in user's token may send: no endpoint
    # takes more from anonymous callers, so a big anonymous body is refused
    # (401) before it is read, whoever sends it.
    anonymous_max_body_bytes: int = _from_env(
        "ANON_MAX_BODY_BYTES",
        64 * 1024,
        "Largest request body without a signed-in user's token (401 beyond, before it is read).",
        ge=1024,
    )
    # Bodies over ANON_MAX_BODY_BYTES held at once by one process, from their
    # first byte until their answer: a request holds a few times its body, so
    # this bounds the memory big writes take together. One body alone is
    # always let in (up to MAX_BODY_BYTES).
    body_bytes_in_flight: int = _from_env(
        "BODY_BYTES_IN_FLIGHT",
        32 * 1024 * 1024,
        "Bytes of big request bodies (over ANON_MAX_BODY_BYTES) one process reads and "
        "parses at once; a body beyond it is answered 503 with Retry-After.",
        ge=1024,
    )
    max_header_bytes: int = _from_env(
        "MAX_HEADER_BYTES",
        32 * 1024,
        "Largest request line and headers together (431 beyond, before they are read whole).",
        ge=4096,
        le=1024 * 1024,
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = _from_env(
        "LOG_LEVEL", "INFO"
    )
    gzip_minimum_bytes: int = _from_env(
        "GZIP_MINIMUM_BYTES",
        16 * 1024,
        "Answers at least this big are gzipped when the client accepts it; "
        "0 leaves compression to a proxy in front (saves the API's CPU).",
        ge=0,
    )
    gzip_cache_bytes: int = _from_env(
        "GZIP_CACHE_BYTES",
        32 * 1024 * 1024,
        "Per process, this many bytes of gzipped trees are kept by their ETag, "
        "so a tree read again is not compressed again; 0 turns the cache off.",
        ge=0,
    )
    # What anonymous GETs (published content only: the same for everyone)
    # tell caches (app.http.caching); a signed-in caller's are private.
    cache_max_age: int = _from_env(
        "CACHE_MAX_AGE",
        60,
        "Seconds a browser (or any cache) may reuse an anonymous GET's answer "
        "without asking again (`max-age`).",
        ge=0,
    )
    cache_s_maxage: int = _from_env(
        "CACHE_S_MAXAGE",
        300,
        "Seconds a shared cache (a CDN, a caching proxy) may reuse an anonymous "
        "GET's answer (`s-maxage`): how long a publication may take to show there.",
        ge=0,
    )
    cache_stale_while_revalidate: int = _from_env(
        "CACHE_STALE_WHILE_REVALIDATE",
        60,
        "Seconds past its age a cache may still serve an anonymous answer while it "
        "revalidates it in the background (`stale-while-revalidate`).",
        ge=0,
    )
    log_format: Literal["text", "json"] = _from_env(
        "LOG_FORMAT",
        "text",
        "`json`: one JSON object per line (time, level, request id, route, …).",
    )
    shutdown_timeout: int = _from_env(
        "SHUTDOWN_TIMEOUT",
        15,
        "Seconds a stopping process (SIGTERM) lets in-flight requests finish.",
        ge=0,
        le=600,
    )

    search_index_interval: float = _from_env(
        "SEARCH_INDEX_INTERVAL",
        5.0,
        "Seconds between the search indexer's sweeps for contents whose indexing "
        "a tree write deferred (each tree write also wakes it); 0 turns this process's "
        "indexer off (another process, or pg_cron, must run "
        "creatoros_internal.index_deferred_search).",
        ge=0,
        le=3600,
    )
    search_index_batch: int = _from_env(
        "SEARCH_INDEX_BATCH",
        500,
        "Contents the search indexer indexes per transaction.",
        ge=1,
        le=10_000,
    )
    search_highlight_start: str = _from_env(
        "SEARCH_HIGHLIGHT_START",
        "<mark>",
        "What search snippets put before each match: the snippet's only markup "
        "(its text is HTML-escaped).",
        max_length=100,
    )
    search_highlight_stop: str = _from_env(
        "SEARCH_HIGHLIGHT_STOP",
        "</mark>",
        "What search snippets put after each match.",
        max_length=100,
    )

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @field_validator("log_level", "log_format", mode="before")
    @classmethod
    def _normalize_case(cls, value: object, info: ValidationInfo) -> object:
        if not isinstance(value, str):
            return value
        return value.upper() if info.field_name == "log_level" else value.lower()

    @property
    def uses_embedded_database(self) -> bool:
        return not self.database_url


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings; tests build their own `Settings` instead."""
    return Settings()
