# DocsTune: the web UI, the API (gunicorn) and the job worker in one image.
#   docker build -t docstune .          (docker-compose.yml builds it for you)
# The same image runs `gunicorn ... application.wsgi:app` (the default CMD) or `docstune worker`.

# -- 1. the web UI (React + Vite) -------------------------------------------------------
FROM node:22-bookworm-slim AS web
WORKDIR /src/frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY frontend/ ./
RUN npm run build

# -- 2. the Python service ----------------------------------------------------------------
FROM python:3.11-slim AS app

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# What ingestion runs besides Python: tesseract reads scanned pages and images (OCR), git reads
# repositories that are sources
RUN apt-get update \
    && apt-get install -y --no-install-recommends tesseract-ocr tesseract-ocr-eng git \
    && rm -rf /var/lib/apt/lists/*

# The CPU build of torch first, from PyTorch's CPU index, so that installing DocsTune
# (which pins the same torch version) keeps it and never pulls the CUDA wheels.
# An image for a GPU machine (fine-tuning): --build-arg TORCH_INDEX_URL=<a CUDA index of pytorch.org>.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
RUN pip install torch==2.13.0 --index-url "$TORCH_INDEX_URL"

# DocsTune's dependencies, in their own layer: only setup.cfg changes rebuild it
# (no package folder is copied yet, so this installs the dependencies and empty metadata).
COPY setup.cfg pyproject.toml README.md ./
RUN pip install .

# The code, installed in place: the API serves the web UI from frontend/dist next to
# the `application` package (application/api/web.py), so the package stays in /app.
COPY application application
COPY plugins plugins
COPY training training
RUN pip install --no-deps -e .
COPY --from=web /src/frontend/dist frontend/dist

# Run as a user without privileges; DATA_DIR (SQLite, the embedded Qdrant Edge folder,
# the model registry, staged uploads, the admin token) is a volume it owns.
RUN useradd --create-home --uid 10001 --user-group docstune \
    && mkdir -p /data/models /data/uploads \
    && chown -R docstune:docstune /data
USER docstune

# Model weights come from packages or DATA_DIR/models, never from the network.
ENV DATA_DIR=/data \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    SERVE_HOST=0.0.0.0 \
    SERVE_PORT=7091
VOLUME ["/data"]
EXPOSE 7091

# liveness: the process answers (GET /ready also checks the model, the index and the database)
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('SERVE_PORT', '7091'), timeout=4)"]

CMD ["gunicorn", "-c", "python:application.gunicorn_conf", "application.wsgi:app"]
