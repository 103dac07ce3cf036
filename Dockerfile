# syntax=docker/dockerfile:1
# Build stage: compile TypeScript with the dev dependencies.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
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
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist/src ./dist/src
COPY config ./config
RUN mkdir -p /var/cache/tuf-proxy && chown node:node /var/cache/tuf-proxy
USER node
VOLUME ["/var/cache/tuf-proxy"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.TUF_PROXY_PORT||8080)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["node", "--max-semi-space-size=1", "dist/src/cli.js"]
CMD ["serve"]
