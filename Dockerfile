# syntax=docker/dockerfile:1
# Build stage: compile TypeScript with the dev dependencies.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the `prepare` build needs the sources, copied below (layer caching).
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY test ./test
COPY bench ./bench
RUN npx tsc -p tsconfig.json

# Runtime stage: production dependencies and the compiled sources only.
FROM node:24-bookworm-slim
ENV NODE_ENV=production \
    TUF_PROXY_HOST=0.0.0.0 \
    TUF_PROXY_PORT=8080 \
    TUF_PROXY_CACHE_DIR=/var/cache/tuf-proxy
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` would run tsc, which is a dev dependency; dist/ comes from the build stage.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist/src ./dist/src
COPY config ./config
RUN mkdir -p /var/cache/tuf-proxy && chown node:node /var/cache/tuf-proxy
USER node
VOLUME ["/var/cache/tuf-proxy"]
EXPOSE 8080
# The port the process listens on: TUF_PROXY_PORT as the process reads it (`docker run -e
# TUF_PROXY_PORT=9000` moves both); a port given as a --port flag or in a config file is not seen
# here, so set the port through the variable. test/unit/cli/service-files.test.ts runs this command.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.TUF_PROXY_PORT||8080)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "--max-semi-space-size=1", "dist/src/cli.js"]
CMD ["serve"]
