FROM python:3.11-slim
WORKDIR /app
# the CPU build of torch first, so sentence-transformers does not pull the CUDA one
RUN pip install --no-cache-dir torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
COPY setup.cfg pyproject.toml README.md ./
COPY application application
COPY plugins plugins
COPY training training
RUN pip install --no-cache-dir .
ENV DATA_DIR=/data HF_HUB_OFFLINE=1
EXPOSE 7091
CMD ["docstune", "serve", "--host", "0.0.0.0"]
