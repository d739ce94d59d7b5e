# syntax=docker/dockerfile:1
# The gateway's image: `docker build -t imagegen .` (README "Deploying and scaling").
# Stage 1 installs requirements.txt into a virtualenv from wheels; stage 2 copies that venv and the code
# onto a clean python:3.11-slim, bakes the static files in, and runs as an unprivileged user.

FROM python:3.11-slim AS builder
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
COPY requirements.txt /tmp/requirements.txt
# --only-binary: every pinned package ships wheels for linux amd64 and arm64, so no compiler is needed.
RUN /opt/venv/bin/pip install --only-binary=:all: -r /tmp/requirements.txt

FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DJANGO_SETTINGS_MODULE=imagegen.settings \
    ENV_FILE= \
    DATA_DIR=/data \
    STATIC_ROOT=/app/static \
    PORT=8000 \
    WEB_CONCURRENCY=2 \
    MALLOC_ARENA_MAX=2
RUN groupadd --system --gid 10001 imagegen \
    && useradd --system --uid 10001 --gid imagegen --home-dir /data --no-create-home imagegen \
    && mkdir /data && chown imagegen:imagegen /data && chmod 0700 /data
COPY --from=builder /opt/venv /opt/venv
WORKDIR /app
# The code stays root's: the gateway's user can read it, not change it.
COPY . /app
# Static files are collected now, once, into /app/static. Settings need a DATA_DIR, where they would
# generate a secret key and an encryption key: a throwaway one, deleted in the same layer, so no key is
# ever part of the image.
RUN DATA_DIR=/tmp/build-data python manage.py collectstatic --noinput --verbosity 0 \
    && rm -rf /tmp/build-data \
    && chmod 0755 /app/docker/entrypoint.sh
USER imagegen
VOLUME ["/data"]
EXPOSE 8000
# /health checks the database, the cache and image storage (any Host header is accepted); stdlib only.
HEALTHCHECK --interval=15s --timeout=5s --start-period=90s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f\"http://127.0.0.1:{os.environ.get('PORT', '8000')}/health\", timeout=4)"]
ENTRYPOINT ["/app/docker/entrypoint.sh"]
CMD ["serve"]
