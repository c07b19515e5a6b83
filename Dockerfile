# tsbetween as a drop-in for the yyyar/gobetween image: no ENTRYPOINT, the program at /gobetween
# and on PATH as `gobetween` and `tsbetween`, GoBetween's default command and config path.
#
#   docker build -t tsbetween .
#   docker run --rm --network=host -v "$PWD/conf:/etc/gobetween/conf" tsbetween
#   docker run --rm --network=host -v "$PWD/cfg:/etc/gobetween" tsbetween \
#     gobetween from-file /etc/gobetween/config.json -f json
#
# BASE is any image with `node` (>= 20) on PATH at /usr/local/bin/node or /usr/bin/node; the
# build stage also needs `npm`. Give a local image to build offline:
#   podman build --pull=never --build-arg BASE=localhost/my-node-base .
ARG BASE=node:24-alpine

FROM ${BASE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/bundle.mjs scripts/bundle-rewrite.mjs ./scripts/
COPY src ./src
# Type-check, then bundle (dist/app: the program with its dependencies; no node_modules needed).
RUN npx tsc -p tsconfig.build.json --noEmit \
 && node scripts/bundle.mjs

FROM ${BASE}
LABEL org.opencontainers.image.title="tsbetween" \
      org.opencontainers.image.description="GoBetween-compatible L4 load balancer in TypeScript for Node.js" \
      org.opencontainers.image.licenses="MIT"
WORKDIR /
COPY --from=build /src/package.json /opt/tsbetween/package.json
COPY --from=build /src/dist/app /opt/tsbetween/dist/app
COPY contrib/container/gobetween.toml /etc/gobetween/conf/gobetween.toml
# Links only: no package manager runs in this stage.
RUN ln -s /opt/tsbetween/dist/app/cli.js /gobetween \
 && ln -s /opt/tsbetween/dist/app/cli.js /usr/local/bin/gobetween \
 && ln -s /opt/tsbetween/dist/app/cli.js /usr/local/bin/tsbetween
# The program runs as PID 1 and handles SIGTERM/SIGINT itself: stop accepting, let active
# connections finish within --shutdown-grace (default 10s), exit 0. `docker stop` sends SIGKILL
# after its own timeout (10 s by default): give it more (`docker stop -t 15`) or a shorter grace.
CMD ["/gobetween", "-c", "/etc/gobetween/conf/gobetween.toml"]
