# syntax=docker/dockerfile:1
# One image for every proTES app; its first argument names the app to run:
#   docker run --rm protes gateway            (the default)
#   docker run --rm protes tracker
#   docker run --rm protes tes-sim --name eu-1 --host 0.0.0.0 --port 8000
# Configuration: PROTES_CONFIG and PROTES_* variables (README, "Configuration").

# The current Node.js LTS (the code itself supports 20.19+: package.json engines); the same base in
# both stages, so that the native module compiled in the first (better-sqlite3) runs in the second.
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
# better-sqlite3 compiles from source where no prebuilt binary matches the platform.
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
# The workspace packages' manifests (npm ci links them), before their sources.
COPY packages/middleware-sdk/package.json packages/middleware-sdk/
COPY examples/protes-middleware-example/package.json examples/protes-middleware-example/
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json nest-cli.json ./
COPY packages packages
COPY apps apps
COPY libs libs
COPY scripts scripts
COPY examples examples
RUN npm run build && npm prune --omit=dev

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist dist
# The status page is served from its source files, not compiled.
COPY --from=build /app/apps/gateway/status-page apps/gateway/status-page
# The SDK the gateway and its plugins share, and the example plugin: node_modules links to them.
COPY --from=build /app/packages/middleware-sdk/package.json packages/middleware-sdk/
COPY --from=build /app/packages/middleware-sdk/dist packages/middleware-sdk/dist
COPY --from=build /app/examples/protes-middleware-example/package.json examples/protes-middleware-example/
COPY --from=build /app/examples/protes-middleware-example/dist examples/protes-middleware-example/dist
# Middleware plugins (docs/writing-a-middleware.md): an image derived from this one installs them
# here and names them in middleware.modules as /opt/protes/plugins/node_modules/<package>.
RUN mkdir -p /opt/protes/plugins \
  && echo '{"name":"protes-plugins","version":"1.0.0","private":true}' > /opt/protes/plugins/package.json
COPY --chmod=755 docker/entrypoint.sh /usr/local/bin/protes
# A user of its own, by number: Kubernetes' runAsNonRoot can only verify a numeric USER. It owns
# nothing but the SQLite store's default folder (standalone mode; distributed mode keeps nothing
# here); the rest of the image is read-only to it.
RUN groupadd --gid 10001 protes \
  && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
    --shell /usr/sbin/nologin protes \
  && mkdir -p var && chown 10001:10001 var
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["protes"]
CMD ["gateway"]
