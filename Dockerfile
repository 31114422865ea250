# One image for every Rampart service and the device emulator; the command
# picks which (the Helm chart and docker/compose.yaml set it per workload):
#   node services/<gateway|attestation|telemetry|failures|updates|api>/dist/main.js [migrate]
#   node apps/cli/dist/main.js fleet pod
# Build: make images (scripts/build-images.sh), which needs BuildKit for the
# secret below. BASE_IMAGE is the official Node image where a registry is
# reachable; scripts/build-base-image.sh makes an equivalent from Debian and
# the npm registry where none is. No `# syntax=` line: the built-in
# Dockerfile frontend has RUN --mount, and a named one would be pulled from
# a registry.

ARG BASE_IMAGE=node:24-bookworm-slim
# Node's headers at /usr/local/include/node, for node-gyp: the official image has them; scripts/build-base-image.sh
# makes an image of them alone, so that its base (and the runtime image on it) stays without them.
ARG NODE_HEADERS_IMAGE=${BASE_IMAGE}

FROM ${NODE_HEADERS_IMAGE} AS node-headers

# ---- build: every dependency, compile TypeScript, then keep production dependencies only
FROM ${BASE_IMAGE} AS build
ARG PNPM_VERSION=12.4.2
WORKDIR /src
ENV CI=true
# pkcs11js (@rampart/trust's PKCS#11 binding, an optional dependency) is a native addon compiled by node-gyp at
# install: python3, make and a C++ compiler here, in the build stage only. Node's headers (node-headers above)
# go into node-gyp's cache as scripts/ensure-node.sh puts them, so node-gyp fetches nothing from nodejs.org.
COPY --from=node-headers /usr/local/include/node /usr/local/include/node
RUN apt-get update \
 && apt-get install --yes --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/* \
 && version="$(node -p process.versions.node)" \
 && test -f /usr/local/include/node/common.gypi \
 && mkdir -p "/root/.cache/node-gyp/$version/include" \
 && cp -R /usr/local/include/node "/root/.cache/node-gyp/$version/include/" \
 && echo 11 >"/root/.cache/node-gyp/$version/installVersion"
# The machine's extra CA certificates (a TLS-inspecting proxy's, say) reach
# the build only as a secret mounted for one command: they are in no layer of
# either stage. Without the secret the registry is trusted as Debian's CAs say.
# pnpm comes from npm (corepack refuses a registry that serves no signatures
# and is gone from Node 25).
RUN --mount=type=secret,id=extra-ca \
    if [ -s /run/secrets/extra-ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/extra-ca; fi; \
    npm install --global --no-audit --no-fund --loglevel=error "pnpm@${PNPM_VERSION}"
# Dependencies first, from the lockfile alone, so a source change reuses this layer's download.
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml ./
RUN --mount=type=secret,id=extra-ca --mount=type=cache,id=rampart-pnpm-store,target=/root/.cache/pnpm-store \
    if [ -s /run/secrets/extra-ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/extra-ca; fi; \
    pnpm fetch --store-dir /root/.cache/pnpm-store
COPY . .
RUN --mount=type=cache,id=rampart-pnpm-store,target=/root/.cache/pnpm-store \
    pnpm install --frozen-lockfile --offline --store-dir /root/.cache/pnpm-store \
 && pnpm build \
 && rm -rf node_modules packages/*/node_modules services/*/node_modules devices/*/node_modules apps/*/node_modules bench/node_modules \
 && pnpm --filter '!@rampart/bench' --filter '!@rampart/testing' install --frozen-lockfile --offline --prod \
      --store-dir /root/.cache/pnpm-store \
 && (cd packages/trust && node -e "require('pkcs11js')") \
 && rm -rf bench test packages/testing \
 && rm -rf .tools reports docs \
           packages/*/src packages/*/test services/*/src services/*/test devices/*/src devices/*/test apps/*/src apps/*/test \
           packages/*/*.tsbuildinfo services/*/*.tsbuildinfo devices/*/*.tsbuildinfo apps/*/*.tsbuildinfo

# ---- runtime: Node 24, production dependencies and compiled code (the built pkcs11js addon with them), a
# non-root user, no compiler
FROM ${BASE_IMAGE}
LABEL org.opencontainers.image.title="rampart" \
      org.opencontainers.image.description="Rampart: make fleets of microcontroller-class IoT devices secure and keep them secure" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV NODE_ENV=production
# Debian's SoftHSM2 (module /usr/lib/softhsm/libsofthsm2.so, softhsm2-util) for the development token mode
# (the chart's keys.softhsm, `rampart up --keys pkcs11`), and OpenSC's pkcs11-tool to look into any token
# (`pkcs11-tool --module <vendor .so> --list-objects`). A production token's module is the vendor's, mounted
# into the pod (keys.pkcs11.moduleVolume). SoftHSM's own /etc/softhsm2.conf is not used: the token directory
# is a volume, named by SOFTHSM2_CONF.
RUN apt-get update \
 && apt-get install --yes --no-install-recommends softhsm2 opensc \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /usr/share/doc/* /usr/share/man/*
WORKDIR /app
COPY --from=build --chown=root:root /src /app
# Mount points of docker/compose.yaml's named volumes, owned by the unprivileged
# user: a fresh named volume takes its owner and mode from the image's directory
# (Compose has no fsGroup), so the secrets, the fleet's signing keys and its state are writable; and
# docker/compose.pkcs11.yaml's development token (keys), the platform CA's public files (platform-ca) and
# development offline root (offline-root).
RUN dirs="/var/lib/rampart/secrets /var/lib/rampart/firmware-signing /var/lib/rampart/fleet /var/lib/rampart/keys /var/lib/rampart/platform-ca /var/lib/rampart/offline-root" \
 && mkdir -p $dirs && chown node:node $dirs && chmod 0750 $dirs
# The base image's unprivileged user (1000); nothing under /app is writable by
# it (the chart also mounts the root filesystem read-only and gives /tmp as an emptyDir).
USER node
# Liveness from the service kit's /healthz on HTTP_PORT (Kubernetes uses the chart's probes instead).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 CMD ["node", "/app/docker/healthcheck.mjs"]
EXPOSE 8000 8080 8081 8083 8084 8085 8443 8883
CMD ["node", "apps/cli/dist/main.js", "--help"]
