# Sesame's production image: slim, pinned, non-root. The database comes from DATABASE_URL.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PORT=3000

WORKDIR /app
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin sesame
COPY requirements.txt ./
RUN pip install -r requirements.txt
# Only what the service runs: the root modules (all of them are the service; dev and ops
# tooling lives in tools/, tests in tests/, neither is copied), gunicorn.conf.py, migrations.
COPY *.py ./
COPY migrations ./migrations

USER sesame
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"PORT\"]}/health', timeout=2)"]
# Migrates, then becomes gunicorn. docker-compose.yml runs the migration as its own step.
CMD ["python", "boot.py"]
