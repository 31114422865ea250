# syntax=docker/dockerfile:1
# One image for every Rampart service and the device emulator; the command
# picks which (the Helm chart sets it per workload):
#   node services/<gateway|attestation|telemetry|failures|updates>/dist/main.js [migrate]
#   node packages/cli/dist/main.js fleet pod
# Build: make images (or docker build -t rampart:dev .)

ARG NODE_IMAGE=node:24-bookworm-slim

# ---- build: every dependency, compile TypeScript, then keep production dependencies only
FROM ${NODE_IMAGE} AS build
WORKDIR /src
ENV CI=true PNPM_HOME=/pnpm PATH=/pnpm:$PATH
# pnpm at the version package.json pins (corepack reads "packageManager").
RUN corepack enable
COPY . .
RUN pnpm install --frozen-lockfile \
 && pnpm build \
 && pnpm install --frozen-lockfile --prod --offline \
 && rm -rf .git .tools reports bench test docs \
           packages/*/src packages/*/test services/*/src services/*/test devices/*/src devices/*/test \
           packages/testing

# ---- runtime: Node 24, production dependencies and compiled code, a non-root user, nothing else
FROM ${NODE_IMAGE}
LABEL org.opencontainers.image.title="rampart" \
      org.opencontainers.image.description="Rampart: make fleets of microcontroller-class IoT devices secure and keep them secure" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build --chown=root:root /src /app
COPY docker/healthcheck.mjs /app/docker/healthcheck.mjs
# The node image's unprivileged user; nothing under /app is writable by it (the chart also mounts the root
# filesystem read-only and gives /tmp as an emptyDir).
USER node
# Liveness from the service kit's /healthz on HTTP_PORT (Kubernetes uses the chart's probes instead).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 CMD ["node", "/app/docker/healthcheck.mjs"]
EXPOSE 8080 8081 8083 8084 8085 8443 8883
CMD ["node", "packages/cli/dist/main.js", "--help"]
