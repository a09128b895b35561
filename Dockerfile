# One image for every portal process; docker-compose.yml picks the command.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY portal portal
COPY api api
COPY workflows workflows
COPY activities activities
COPY workers workers
COPY services services
COPY protos protos
RUN pip install --no-cache-dir .
USER nobody
CMD ["portal", "api"]
