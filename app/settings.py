"""Every knob of the service, read once from the environment (or a `.env` file).

The environment names are an interface: scripts, docker-compose and the README
rely on them, so each field names its variable explicitly.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def _env(name: str) -> AliasChoices:
    return AliasChoices(name, name.lower())


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    database_url: str | None = Field(
        default=None,
        validation_alias=_env("DATABASE_URL"),
        description="PostgreSQL URL. Unset: an embedded PostgreSQL in CREATOROS_DATA_DIR.",
    )
    data_dir: Path = Field(
        default=Path(".creatoros"),
        validation_alias=_env("CREATOROS_DATA_DIR"),
        description="Embedded database files and the generated development JWT secret.",
    )
    jwt_secret: SecretStr | None = Field(
        default=None,
        validation_alias=_env("JWT_SECRET"),
        description="HS256 secret (Supabase's legacy JWT secret).",
    )
    jwt_jwks_url: str | None = Field(default=None, validation_alias=_env("JWT_JWKS_URL"))
    jwt_jwks_file: Path | None = Field(default=None, validation_alias=_env("JWT_JWKS_FILE"))
    jwt_audience: str = Field(default="authenticated", validation_alias=_env("JWT_AUDIENCE"))
    jwt_issuer: str | None = Field(default=None, validation_alias=_env("JWT_ISSUER"))
    db_pool_size: int = Field(default=10, ge=1, le=200, validation_alias=_env("DB_POOL_SIZE"))
    db_pooler_mode: bool = Field(
        default=False,
        validation_alias=_env("DB_POOLER_MODE"),
        description="Behind a transaction-mode pooler (PgBouncer, Supavisor): "
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
    max_body_bytes: int = Field(
        default=16 * 1024 * 1024, ge=1024, validation_alias=_env("MAX_BODY_BYTES")
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field(
        default="INFO", validation_alias=_env("LOG_LEVEL")
    )
    gzip_minimum_bytes: int = Field(
        default=16 * 1024,
        ge=0,
        validation_alias=_env("GZIP_MINIMUM_BYTES"),
        description="Answers at least this big are gzipped when the client accepts it; "
        "0 leaves compression to a proxy in front (saves the API's CPU).",
    )
    gzip_cache_bytes: int = Field(
        default=32 * 1024 * 1024,
        ge=0,
        validation_alias=_env("GZIP_CACHE_BYTES"),
        description="Per process, this many bytes of gzipped trees are kept by their ETag, "
        "so a tree read again is not compressed again; 0 turns the cache off.",
    )
    log_format: Literal["text", "json"] = Field(
        default="text",
        validation_alias=_env("LOG_FORMAT"),
        description="`json`: one JSON object per line (time, level, request id, route, …).",
    )
    shutdown_timeout: int = Field(
        default=15,
        ge=0,
        le=600,
        validation_alias=_env("SHUTDOWN_TIMEOUT"),
        description="Seconds a stopping process (SIGTERM) lets in-flight requests finish.",
    )

    search_index_interval: float = Field(
        default=5.0,
        ge=0,
        le=3600,
        validation_alias=_env("SEARCH_INDEX_INTERVAL"),
        description="Seconds between the search indexer's sweeps for contents whose indexing "
        "a tree write deferred (each tree write also wakes it); 0 turns this process's "
        "indexer off (another process, or pg_cron, must run "
        "creatoros_internal.index_deferred_search).",
    )
    search_index_batch: int = Field(
        default=500,
        ge=1,
        le=10_000,
        validation_alias=_env("SEARCH_INDEX_BATCH"),
        description="Contents the search indexer indexes per transaction.",
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
