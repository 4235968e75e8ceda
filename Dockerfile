# Testigo API image: Node 24 LTS, compiled TypeScript, production dependencies only, non-root.
# Build: docker build -t testigo .   Run: see docker-compose.yml (API + PostgreSQL).
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json prisma.config.ts ./
COPY scripts/generate-prisma-client.mjs ./scripts/
COPY prisma ./prisma
# postinstall generates the Prisma client into src/generated, which the build compiles into dist/.
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
# bin/lib/tlog.mjs is the log's verification code, shared by the server and the offline verifier (testigo-verify).
COPY bin ./bin
COPY scripts/copy-assets.mjs ./scripts/
COPY src ./src
RUN npm run build

FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production HOST=0.0.0.0 PORT=3000 DATA_DIR=/var/lib/testigo
WORKDIR /app
COPY package.json package-lock.json ./
COPY scripts/generate-prisma-client.mjs ./scripts/
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY bin ./bin
COPY prisma ./prisma
COPY seed ./seed
RUN mkdir -p /var/lib/testigo && chown node:node /var/lib/testigo
USER node
EXPOSE 3000
VOLUME ["/var/lib/testigo"]
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# server.js handles SIGTERM itself: in-flight requests finish before the process exits.
CMD ["node", "dist/server.js"]
