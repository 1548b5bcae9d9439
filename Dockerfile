# tokenmock as a container: the mock of five vendors' token endpoints, served on port 8080.
#
#   podman build -t tokenmock .        (or docker build; tested with podman only, see docs/container-ci.md)
#   podman run --rm -p 8080:8080 -e TOKENMOCK__ADMIN_TOKEN=change-me tokenmock
#
# BASE is any image with python3 (3.11+) and its venv module at the same path in both stages; the tests
# build on a Debian base made locally (tests/container/podman.py), since no registry can be reached there.
ARG BASE=python:3.12-slim

# Stage 1: install the dependencies into a venv (a layer kept until pyproject.toml changes), then build
# tokenmock's wheel from the sources and install it there.
FROM ${BASE} AS build
WORKDIR /src
COPY pyproject.toml ./
RUN python3 -m venv /opt/build \
    && python3 -m venv --without-pip /opt/tokenmock \
    && python3 -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies'], sep='\n')" \
        > /tmp/requirements.txt \
    && /opt/build/bin/pip --python /opt/tokenmock/bin/python install --no-cache-dir --disable-pip-version-check \
        --quiet --requirement /tmp/requirements.txt
COPY README.md schemathesis.toml ./
COPY src ./src
COPY client ./client
COPY contracts ./contracts
COPY mockserver ./mockserver
COPY openapi ./openapi
RUN /opt/build/bin/pip wheel --no-cache-dir --disable-pip-version-check --quiet --no-deps --wheel-dir /wheels . \
    && /opt/build/bin/pip --python /opt/tokenmock/bin/python install --no-cache-dir --disable-pip-version-check \
        --quiet --no-deps /wheels/tokenmock-*.whl \
    && /opt/tokenmock/bin/tokenmock --version

# Stage 2: the runtime: the base image, the venv, a user without privileges, nothing else.
FROM ${BASE}
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="tokenmock" \
      org.opencontainers.image.description="Mock of five vendors' access-token endpoints, with contracts, faults and a shared state for CI farms" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.documentation="docs/container-ci.md"
RUN groupadd --system --gid 10001 tokenmock \
    && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/tokenmock --no-create-home \
        --shell /usr/sbin/nologin tokenmock \
    && install -d -o 10001 -g 10001 -m 0700 /var/lib/tokenmock
COPY --from=build /opt/tokenmock /opt/tokenmock
# State (the SQLite store the workers share, the local TLS CA) lives under the volume; TOKENMOCK_STORE
# names another store (redis://HOST:6379/0 for a farm), TOKENMOCK__* variables set any other setting,
# TOKENMOCK_CONFIG names a mounted settings file.
ENV PATH=/opt/tokenmock/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/var/lib/tokenmock \
    XDG_DATA_HOME=/var/lib/tokenmock \
    TOKENMOCK_WORKERS=2 \
    TOKENMOCK_STORE=sqlite:////var/lib/tokenmock/state.db
VOLUME ["/var/lib/tokenmock"]
WORKDIR /var/lib/tokenmock
USER 10001:10001
EXPOSE 8080
# Python's own HTTP client: the image carries no curl. (Podman keeps HEALTHCHECK with --format docker.)
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/__mock/health', timeout=4)"]
ENTRYPOINT ["tokenmock"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080"]
