# Kamerwacht in one container: `kamerwacht migrate`, then the daemon as PID 1 (it handles SIGTERM).
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    KAMERWACHT_CONFIG=/etc/kamerwacht/config.toml

RUN useradd --system --user-group --home-dir /data --shell /usr/sbin/nologin kamerwacht \
    && mkdir -p /data /etc/kamerwacht && chown kamerwacht:kamerwacht /data

WORKDIR /app
COPY pyproject.toml README.md ./
COPY monitor ./monitor
COPY spiders ./spiders
COPY migrations ./migrations
RUN pip install ".[postgres]"
COPY deploy/config.container.toml /etc/kamerwacht/config.toml

USER kamerwacht
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080
STOPSIGNAL SIGTERM
# /healthz answers 503 when a source is stale or the outbox is stuck.
HEALTHCHECK --interval=60s --timeout=10s --start-period=60s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=8)"]
# `exec` makes the daemon PID 1, so `docker stop` reaches it directly.
CMD ["sh", "-c", "kamerwacht migrate && exec kamerwacht run"]
