# The API image: `pulse serve` on port 8000. docker-compose.yml runs the migrations first.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /srv/pulse
COPY pyproject.toml README.md alembic.ini ./
COPY app ./app
COPY migrations ./migrations
# Editable, so the migrations and alembic.ini stay beside the package.
RUN pip install -e . \
    && useradd --system --uid 10001 pulse
USER pulse

EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=2)"]
CMD ["pulse", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
