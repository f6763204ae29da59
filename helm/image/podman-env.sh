# Sourced by build.sh and used by the kube smoke: podman with its store under a scratch directory,
# the runc runtime and explicit ulimits (podman 4.3 with crun fails on RLIMIT_NOFILE and hybrid cgroups).
hds_podman_env() {
  local work="$1"
  mkdir -p "$work/store" "$work/run"
  cat >"$work/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
CONF
  export CONTAINERS_CONF="$work/containers.conf"
  podman() { command podman --root "$work/store" --runroot "$work/run" "$@"; }
}
