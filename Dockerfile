# groundwatch image: a pip install of this repository. Used by docker-compose.yml for the
# groundwatch service and the optional simulator.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /opt/groundwatch
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install . \
 && useradd --system --create-home --home-dir /var/lib/groundwatch groundwatch
COPY missions /etc/groundwatch/missions

USER groundwatch
WORKDIR /var/lib/groundwatch
ENTRYPOINT ["groundwatch"]
CMD ["--help"]
