# dd0c/cost images, one target each (see docker-compose.yml and docs/self-hosted.md):
#
#   docker build --target dd0c-cost -t dd0c-cost .        the dispatcher: every role but the app
#   docker build --target dashboard -t dd0c-dashboard .   the dashboard (`serve --role dashboard`)
#   docker build --target agent -t dd0c-agent .           the agent that runs in a customer's VPC
#
# Binaries compiled on the host (same Debian release) can stand in for the Rust build:
# `--build-arg PREBUILT=docker/prebuilt` copies dd0c-cost and dd0c-agent from that folder, and
# a dashboard/dist already built is kept; the test of the compose deployment builds so, with no
# toolchain image to pull.
ARG RUST_IMAGE=rust:1-bookworm
ARG NODE_IMAGE=node:20-bookworm-slim
ARG BASE_IMAGE=debian:bookworm-slim

FROM ${RUST_IMAGE} AS build
ARG PREBUILT=
WORKDIR /src
COPY . .
# With AWS access: the zombie hunter and the trail poller read customer accounts.
RUN if [ -n "$PREBUILT" ]; then \
        install -m 0755 "$PREBUILT/dd0c-cost" "$PREBUILT/dd0c-agent" /usr/local/bin/; \
    else \
        cargo build --release --locked -p dd0c-cost --features aws -p dd0c-agent \
        && install -m 0755 target/release/dd0c-cost target/release/dd0c-agent /usr/local/bin/; \
    fi

FROM ${BASE_IMAGE} AS runtime
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
RUN install -d -o dd0c -g dd0c /var/lib/dd0c/archive /run/dd0c
WORKDIR /opt/dd0c
USER dd0c
# `dd0c-cost healthcheck` reads the same environment as `serve`: no flags in the compose file.
ENV DD0C_LISTEN=0.0.0.0:8080 DD0C_HEALTH_FILE=/run/dd0c/health
EXPOSE 8080 4317
HEALTHCHECK --interval=10s --timeout=6s --start-period=60s CMD ["dd0c-cost", "healthcheck"]
ENTRYPOINT ["dd0c-cost"]
CMD ["serve"]

FROM ${NODE_IMAGE} AS dashboard-build
ARG PREBUILT=
WORKDIR /src/dashboard
COPY dashboard/ ./
RUN if [ -n "$PREBUILT" ] && [ -f dist/index.html ]; then \
        echo "keeping the dashboard already built in dashboard/dist"; \
    else \
        npm ci && npm run build; \
    fi

FROM dd0c-cost AS dashboard
COPY --from=dashboard-build /src/dashboard/dist /opt/dd0c/dashboard
ENV DD0C_ROLES=dashboard DD0C_DASHBOARD_DIR=/opt/dd0c/dashboard
