# The dd0c-cost binary for docker compose (see docker-compose.yml).
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
# With AWS access: the zombie hunter reads customer accounts.
RUN cargo build --release --locked -p dd0c-cost --features aws && cp target/release/dd0c-cost /usr/local/bin/

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* && useradd --system --uid 10001 dd0c
COPY --from=build /usr/local/bin/dd0c-cost /usr/local/bin/dd0c-cost
COPY samples /opt/dd0c/samples
WORKDIR /opt/dd0c
USER dd0c
ENV DD0C_LISTEN=0.0.0.0:8080
EXPOSE 8080
ENTRYPOINT ["dd0c-cost"]
CMD ["serve"]
