"""CreatorOS Content API client for scripts: typed resources (sync and async),
bounded retries, `save_course(folder)` and a durable outbox.

    from creatoros_client import CreatorOS

    api = CreatorOS("http://127.0.0.1:8000", token=TOKEN)
    result = api.save_course("outputs/courses/claude-code")
"""

from creatoros_client._core import (
    ApiError,
    ApiUnreachable,
    CreatorOSError,
    PreconditionFailed,
    RetryPolicy,
    is_transient,
)
from creatoros_client.client import AsyncClient, Client
from creatoros_client.course import (
    CoursePlan,
    EmptyCourseFolder,
    ResearchEntry,
    Skipped,
    read_course,
    read_courses,
    slugify,
)
from creatoros_client.creatoros import AsyncCreatorOS, CreatorOS, WriteResult
from creatoros_client.outbox import FlushResult, OutboxStore
from creatoros_client.persist import Counts, SaveResult

__version__ = "0.1.0"

__all__ = [
    "ApiError",
    "ApiUnreachable",
    "AsyncClient",
    "AsyncCreatorOS",
    "Client",
    "Counts",
    "CoursePlan",
    "CreatorOS",
    "CreatorOSError",
    "EmptyCourseFolder",
    "FlushResult",
    "OutboxStore",
    "PreconditionFailed",
    "ResearchEntry",
    "RetryPolicy",
    "SaveResult",
    "Skipped",
    "WriteResult",
    "is_transient",
    "read_course",
    "read_courses",
    "slugify",
]
