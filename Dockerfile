FROM python:3.11-slim-bookworm
WORKDIR /app
COPY pyproject.toml README.md ./
COPY gis gis
COPY api api
COPY maps maps
COPY data data
RUN pip install --no-cache-dir . && useradd --system gridsafe
USER gridsafe
# Production by default: needs GRIDSAFE_DATABASE_URL and GRIDSAFE_SECRET_KEY (≥ 32 bytes, e.g.
# `openssl rand -hex 32`); `gridsafe serve` refuses to start with a missing, short or default key.
ENV GRIDSAFE_MODE=production
EXPOSE 8000
CMD ["gridsafe", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
