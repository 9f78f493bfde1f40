# syntax=docker/dockerfile:1
#
# CreatorOS Content API.
#   docker build -t creatoros-content-api .
#   docker run --rm -p 8000:8000 -e DATABASE_URL=postgresql://… -e JWT_SECRET=… creatoros-content-api
# Without DATABASE_URL the container starts the embedded PostgreSQL in
# CREATOROS_DATA_DIR (mount a volume there to keep its data).
# docker-compose.yml shows the full shape (PostgreSQL, a migrate step, the API).

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    CREATOROS_DATA_DIR=/var/lib/creatoros

# An unprivileged user to run the service: nothing in it needs root.
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --create-home --home-dir /home/app \
        --shell /usr/sbin/nologin app \
 && mkdir -p /var/lib/creatoros \
 && chown app:app /var/lib/creatoros

WORKDIR /app

# Source stays owned by root: the service only reads it.
COPY pyproject.toml README.md alembic.ini ./
COPY alembic/ ./alembic/
COPY app/ ./app/

RUN pip install --no-cache-dir . \
 && rm -rf build ./*.egg-info

USER app

EXPOSE 8000

# No curl in the slim image: ask /healthz with the standard library.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; r = urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4); sys.exit(0 if r.status == 200 else 1)"]

CMD ["creatoros", "serve", "--host", "0.0.0.0", "--port", "8000"]
