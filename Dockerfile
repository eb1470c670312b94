# syntax=docker/dockerfile:1
# The Sluice controller: Node 24 running the emitted JavaScript (dist/, from `npm run build`),
# with git and an ssh client for Git sync, as a non-root user, on a read-only root filesystem
# (HOME, TMPDIR and the Git cache are on emptyDirs in the chart: /tmp and /var/cache/sluice).
#
# Alpine rather than Debian slim: every runtime dependency is plain JavaScript (no native
# addons, so musl is no concern), and Alpine's git and openssh-client add ~20 MB where
# Debian's git pulls in perl (~60 MB). Estimated size, uncompressed: Alpine ~9 MB + Node 24
# ~115 MB (npm, npx, corepack and yarn removed) + git/ssh/tini ~20 MB + production
# node_modules ~83 MB + dist ~2 MB = ~230 MB; ~70 MB compressed (README: "Container image").
#
#   docker build -t registry.example.com/sluice/controller:0.1.0 .
ARG NODE_IMAGE=node:24-alpine

# Build: the whole toolchain, then `npm run build` emits src/ as JavaScript into dist/.
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: the `node` devDependency would otherwise fetch a second (glibc) Node runtime
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig*.json ./
COPY src ./src
RUN npm run build

# Production dependencies only, without type declarations and source maps.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && find node_modules -type f \( -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.map' \) -delete \
 && rm -rf /root/.npm

FROM ${NODE_IMAGE}
# tini as PID 1 reaps the git and ssh processes Git sync starts and forwards SIGTERM to node.
# Package versions follow the base image's Alpine release (pin NODE_IMAGE by digest to repeat a build).
# hadolint ignore=DL3018
RUN apk add --no-cache git openssh-client tini \
 && rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack /opt/yarn-* /usr/local/bin/yarn /usr/local/bin/yarnpkg \
 && addgroup -S -g 10001 sluice \
 && adduser -S -D -H -u 10001 -G sluice -h /tmp -s /sbin/nologin sluice
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/dist ./dist
# "type": "module": dist/ is ESM
COPY package.json ./
# In a container the metrics and health endpoints must be reachable from outside it (probes,
# scrapes): the binary's 127.0.0.1 defaults are for a process on someone's machine.
# Memory: two malloc arenas and a 2 MiB young generation keep the resident set near what is live
# (docs/performance.md: 245 -> 152 MiB at 100 rollouts, the same latency and CPU).
ENV NODE_ENV=production \
    MALLOC_ARENA_MAX=2 \
    NODE_OPTIONS=--max-semi-space-size=2 \
    HOME=/tmp \
    TMPDIR=/tmp \
    SLUICE_GIT_CACHE_DIR=/var/cache/sluice/git \
    SLUICE_METRICS_ADDR=0.0.0.0:8080 \
    SLUICE_HEALTH_ADDR=0.0.0.0:8081
# numeric, so that runAsNonRoot can verify it without /etc/passwd
USER 10001:10001
EXPOSE 8080 8081 8082
ENTRYPOINT ["/sbin/tini", "--", "node", "dist/main.js"]
