#!/usr/bin/env bash
# Builds the container image from the Dockerfile with buildah and starts it against the demo
# backends, with no container registry and no OCI runtime: CI's `== image` step.
#
#   bash scripts/image.sh base    a local stand-in for the official node image (cached)
#   bash scripts/image.sh build   the Dockerfile, on that base, as $IMAGE
#   bash scripts/image.sh smoke   run $IMAGE and check it serves the demo graph (image-smoke.ts)
#   bash scripts/image.sh         all three, timed
#
# Why a stand-in: no registry is reachable here, so `node:<version>-bookworm-slim` cannot be
# pulled. The base is built the way that image is (Debian bookworm, Node's official Linux x64
# binary in /usr/local/bin, npm, a `node` user with uid 1000) from what is reachable: Debian's
# mirror (the one apt uses) and the npm registry (scripts/runtimes.mjs's pinned binary).
# Why `buildah run --isolation chroot`, not `podman run`: crun and runc cannot start containers in
# this sandbox (setrlimit RLIMIT_NOFILE/NPROC: Operation not permitted, no CAP_SYS_RESOURCE).
set -euo pipefail
cd "$(dirname "$0")/.."

# The Node version is the Dockerfile's default base tag; its unit test keeps that equal to line
# 24's pin in scripts/runtimes.mjs.
NODE_VERSION=$(sed -nE 's/^ARG NODE_IMAGE=node:([0-9.]+)-bookworm-slim$/\1/p' Dockerfile)
NODE_LINE=${NODE_VERSION%%.*}
# The npm the base carries: the one package-lock.json is written with.
NPM_VERSION=11.19.1
BASE=${BASE_IMAGE:-localhost/gateway-node-base:$NODE_VERSION}
IMAGE=${IMAGE:-localhost/federation-gateway:test}

fail() {
  echo "image: $*" >&2
  exit 1
}

# A Debian package's command, installed with apt-get when it is missing and this is root on a
# machine with apt; anywhere else the run stops naming the package to install.
need() {
  local command=$1 package=$2
  command -v "$command" >/dev/null && return
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "image: installing Debian's $package for $command"
    apt-get install -y -qq "$package" >/dev/null || fail "apt-get install $package failed"
    return
  fi
  fail "$command is not installed: install Debian's $package package (apt-get install $package) as root"
}

# The URI of the mirror apt itself uses for bookworm (deb822 .sources or one-line .list files),
# read at run time so no host name is written anywhere; DEBIAN_MIRROR overrides it.
debian_mirror() {
  if [ -n "${DEBIAN_MIRROR:-}" ]; then
    echo "$DEBIAN_MIRROR"
    return
  fi
  {
    awk 'BEGIN { RS = "" } {
      uri = ""; bookworm = 0
      n = split($0, lines, "\n")
      for (i = 1; i <= n; i++) {
        if (lines[i] ~ /^URIs:/) { split(lines[i], f, " "); uri = f[2] }
        if (lines[i] ~ /^Suites:/ && lines[i] ~ /[ \t]bookworm([ \t]|$)/) bookworm = 1
      }
      if (uri != "" && bookworm) print uri
    }' /etc/apt/sources.list.d/*.sources 2>/dev/null || true
    sed -E 's/\[[^]]*\]//' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
      awk '$1 == "deb" && $3 == "bookworm" { print $2 }' || true
  } | head -n 1
}

image_exists() {
  buildah inspect --type image "$1" >/dev/null 2>&1
}

cmd_base() {
  need buildah buildah
  if image_exists "$BASE"; then
    echo "image: base $BASE exists (buildah rmi it to rebuild)"
    return
  fi
  need debootstrap debootstrap
  local mirror
  mirror=$(debian_mirror)
  [ -n "$mirror" ] || fail "no bookworm mirror in apt's sources: set DEBIAN_MIRROR"
  node scripts/runtimes.mjs install >/dev/null
  local node_bin
  node_bin="$(node scripts/runtimes.mjs bin "$NODE_LINE")/node"
  [ "$("$node_bin" --version)" = "v$NODE_VERSION" ] ||
    fail "scripts/runtimes.mjs pins $("$node_bin" --version) for line $NODE_LINE; the Dockerfile names $NODE_VERSION"

  # The root filesystem is built here and removed however the run ends.
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  local rootfs=$work/rootfs
  echo "image: debootstrap bookworm (minbase) from apt's mirror"
  debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 ||
    { tail -n 20 "$work/debootstrap.log" >&2; fail "debootstrap failed"; }
  install -m 0755 "$node_bin" "$rootfs/usr/local/bin/node"
  npm install --global --prefix "$rootfs/usr/local" --no-audit --no-fund --loglevel=error \
    "npm@$NPM_VERSION" >/dev/null
  # The official image's user, and its slimming: no docs, man pages, apt lists or caches.
  chroot "$rootfs" groupadd --gid 1000 node
  chroot "$rootfs" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
  rm -rf "$rootfs"/usr/share/{doc,man,info}/* "$rootfs"/var/lib/apt/lists/* \
    "$rootfs"/var/cache/apt/* "$rootfs"/var/log/* "$rootfs"/root/.npm
  tar --numeric-owner -C "$rootfs" -cf "$work/rootfs.tar" .

  local container
  container=$(buildah from scratch)
  buildah add --quiet "$container" "$work/rootfs.tar" / >/dev/null
  buildah config \
    --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env NODE_VERSION="$NODE_VERSION" \
    --cmd '["node"]' \
    --label "org.opencontainers.image.description=stand-in for node:$NODE_VERSION-bookworm-slim (scripts/image.sh base)" \
    "$container"
  buildah commit --quiet --rm "$container" "$BASE" >/dev/null
  echo "image: base $BASE built"
}

cmd_build() {
  need buildah buildah
  image_exists "$BASE" || fail "no base image $BASE: run bash scripts/image.sh base"
  # The registry this machine's npm uses and the certificate authorities it trusts (a proxy here
  # may present its own), given to the deps stage as build secrets: in no layer, history or file.
  # --layers: the deps stage is reused while package.json and the lock are unchanged.
  # --format docker: the OCI format has no HEALTHCHECK, and buildah would drop it.
  local ca previous secrets=(--secret id=npm_registry,type=env,src=NPM_REGISTRY)
  ca=$(npm config get cafile)
  if [ -n "$ca" ] && [ "$ca" != null ]; then secrets+=(--secret "id=npm_ca,src=$ca"); fi
  previous=$(buildah images --quiet --no-trunc "$IMAGE" 2>/dev/null || true)
  NPM_REGISTRY=$(npm config get registry) buildah bud --quiet --layers --isolation chroot \
    --network host --format docker --build-arg NODE_IMAGE="$BASE" "${secrets[@]}" \
    -t "$IMAGE" . >/dev/null
  # The image this build replaced, untagged now: removed, unless something still uses it.
  if [ -n "$previous" ] && [ "$previous" != "$(buildah images --quiet --no-trunc "$IMAGE")" ]; then
    buildah rmi "$previous" >/dev/null 2>&1 || true
  fi
  echo "image: $IMAGE built, $(buildah images --format '{{.Size}}' "$IMAGE")"
}

cmd_smoke() {
  need buildah buildah
  image_exists "$IMAGE" || fail "no image $IMAGE: run bash scripts/image.sh build"
  node --import ./bin/typescript-loader.js scripts/image-smoke.ts "$IMAGE" "$(npm config get registry)"
}

timed() {
  local t0=$SECONDS
  "cmd_$1"
  echo "image: $1 took $((SECONDS - t0)) s"
}

case "${1:-all}" in
  base | build | smoke) "cmd_$1" ;;
  all)
    timed base
    timed build
    timed smoke
    ;;
  *)
    echo "usage: bash scripts/image.sh [base|build|smoke]" >&2
    exit 2
    ;;
esac
