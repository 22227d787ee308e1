# syntax=docker/dockerfile:1
# Gatehouse gateway image, multi-arch (linux/arm64 for Raspberry Pi 4/5, linux/amd64).
#   docker buildx build --platform linux/arm64,linux/amd64 -t gatehouse:0.1.0 .
# See docs/docker.md for running it with serial/GPIO/HID devices passed through.

ARG NODE_VERSION=22

# --- build: compile native addons (better-sqlite3, serialport, node-hid, onoff) and TypeScript ---
FROM node:${NODE_VERSION}-bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ libudev-dev libusb-1.0-0-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY gateway ./gateway
COPY drivers ./drivers
COPY sync ./sync
COPY config ./config
COPY scripts ./scripts
RUN npm run build \
 && mkdir -p dist/config \
 && cp -r config/examples dist/config/examples \
 && npm prune --omit=dev

# --- runtime: no compilers, non-root, data directory as a volume ---
FROM node:${NODE_VERSION}-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libudev1 libusb-1.0-0 tini \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system gatehouse \
 && useradd --system --gid gatehouse --groups dialout --home-dir /var/lib/gatehouse --shell /usr/sbin/nologin gatehouse \
 && mkdir -p /var/lib/gatehouse /etc/gatehouse \
 && chown gatehouse:gatehouse /var/lib/gatehouse
WORKDIR /opt/gatehouse
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY bin ./bin
ENV NODE_ENV=production
# glibc malloc arenas: gateway/ops/node-flags.ts.
ENV MALLOC_ARENA_MAX=2
USER gatehouse
# Everything the gateway writes lives here (storage.dataDir in the config should point at it).
VOLUME ["/var/lib/gatehouse"]
# MQTT for venue devices, admin (health/metrics/status).
EXPOSE 1883 8883 9464
HEALTHCHECK --interval=30s --timeout=3s CMD node -e "fetch('http://127.0.0.1:9464/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# Node flags: gateway/ops/node-flags.ts (a smaller V8 heap for a Pi; test/ops/deploy.test.ts keeps them in step).
ENTRYPOINT ["/usr/bin/tini", "--", "node", "--max-semi-space-size=4", "--heap-growing-percent=20", "/opt/gatehouse/bin/gatehouse.js"]
CMD ["run", "--config", "/etc/gatehouse/gatehouse.yaml"]
