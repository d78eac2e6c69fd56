# dd0c/cost images (see docker-compose.yml): `docker build .` gives the dd0c-cost dispatcher,
# `docker build --target agent .` the dd0c-agent that runs in a customer's VPC.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
# With AWS access: the zombie hunter and the trail poller read customer accounts.
RUN cargo build --release --locked -p dd0c-cost --features aws -p dd0c-agent \
    && cp target/release/dd0c-cost target/release/dd0c-agent /usr/local/bin/

FROM debian:bookworm-slim AS runtime
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* && useradd --system --uid 10001 dd0c

FROM runtime AS agent
COPY --from=build /usr/local/bin/dd0c-agent /usr/local/bin/dd0c-agent
RUN install -d -o dd0c -g dd0c /var/lib/dd0c-agent
USER dd0c
ENTRYPOINT ["dd0c-agent"]

FROM runtime AS dd0c-cost
COPY --from=build /usr/local/bin/dd0c-cost /usr/local/bin/dd0c-cost
COPY samples /opt/dd0c/samples
RUN install -d -o dd0c -g dd0c /var/lib/dd0c/archive
WORKDIR /opt/dd0c
USER dd0c
ENV DD0C_LISTEN=0.0.0.0:8080
EXPOSE 8080 4317
ENTRYPOINT ["dd0c-cost"]
CMD ["serve"]
