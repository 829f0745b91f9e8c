# syntax=docker/dockerfile:1
# Multi-stage: build TypeScript with dev dependencies, ship only production dependencies and dist/.
# Node 24 (LTS) in both stages, as in package.json `engines` and .nvmrc. No compiler toolchain: nothing is built
# from source any more (the SQLite cache runs on node:sqlite).
ARG NODE_VERSION=24
FROM node:${NODE_VERSION}-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:${NODE_VERSION}-slim
# NODE_OPTIONS: Node 24's young generation capped as in deploy/k8s/configmap.yaml (peak RSS, see README).
ENV NODE_ENV=production HTTP_PORT=9464 CACHE_URL=sqlite:///var/lib/triage/triage.sqlite NODE_OPTIONS=--max-semi-space-size=16
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY examples ./examples
COPY config ./config
RUN mkdir -p /var/lib/triage && chown node:node /var/lib/triage
USER node
EXPOSE 9464
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.HTTP_PORT||9464)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
STOPSIGNAL SIGTERM
CMD ["node", "dist/cli.js", "run"]
