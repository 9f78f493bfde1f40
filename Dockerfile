# syntax=docker/dockerfile:1
#
# CreatorOS Content API.
#   docker build -t creatoros-content-api .
#   docker run --rm -p 8000:8000 -e DATABASE_URL=postgresql://… -e JWT_SECRET=… creatoros-content-api
# Without DATABASE_URL the container starts the embedded PostgreSQL in
# CREATOROS_DATA_DIR (mount a volume there to keep its data).
# docker-compose.yml shows the full shape (PostgreSQL, a migrate job,
# PgBouncer, two API replicas).
#
# tests/test_docker.py builds this file without a container engine: it
# assembles the context (honouring .dockerignore), runs the install steps
# in a fresh virtualenv and starts CMD against a test database.

# --- build: the two distributions (service and client) into a virtualenv --
FROM python:3.11-slim AS build

ENV PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

WORKDIR /src

# The client first: it changes less often than the service, so its layer
# is reused. The service requires it (`creatoros-client`); naming both in
# one pip command is how pip finds it.
COPY client/ ./client/
COPY pyproject.toml README.md LICENSE alembic.ini ./
COPY alembic/ ./alembic/
COPY app/ ./app/

# Not editable: the runtime stage gets the installed files, not /src.
RUN --mount=type=cache,target=/root/.cache/pip \
    python -m venv /opt/venv \
 && /opt/venv/bin/pip install ./client .

# --- runtime: the virtualenv only, as an unprivileged user -----------------
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    CREATOROS_DATA_DIR=/var/lib/creatoros \
    SHUTDOWN_TIMEOUT=15

# An unprivileged user to run the service (the embedded PostgreSQL refuses
# to run as root, and needs a user with a passwd entry).
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --create-home --home-dir /home/app \
        --shell /usr/sbin/nologin app \
 && install -d -o app -g app -m 0700 /var/lib/creatoros

# Owned by root: the service only reads its code.
COPY --from=build /opt/venv /opt/venv

USER app
WORKDIR /home/app

EXPOSE 8000

# uvicorn drains on SIGTERM: in-flight requests get SHUTDOWN_TIMEOUT seconds,
# then the pool closes. The orchestrator's grace period must be longer
# (docker-compose.yml: stop_grace_period 25s; `docker stop -t 25`).
STOPSIGNAL SIGTERM

# Ready = the database answers and is migrated to head. No curl in the slim
# image: ask /readyz with the standard library.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; r = urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4); sys.exit(0 if r.status == 200 else 1)"]

CMD ["creatoros", "serve", "--host", "0.0.0.0", "--port", "8000"]
