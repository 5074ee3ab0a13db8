# shellcheck shell=bash
# scripts/lib/node.sh — the local cluster's worker node, sourced by scripts/cluster (`up --node` / CLUSTER_NODE=1).
#
# One node named "localhost": kubelet + containerd + runc + the bridge CNI plugin, plus kube-controller-manager and
# kube-scheduler on the host. Facts behind every setting: ../shared/node.md (docs/control-plane.md summarises).
#
# The shape, and why:
# - Network rule of this workplace: no private-range address on the host's network namespace. So a holder process
#   (the pause binary) keeps a network + mount namespace that this script creates; containerd and the kubelet are
#   started inside it (nsenter), and the pod bridge, pod IPs, the node IP and the service IP 10.0.0.1 exist only there.
#   scripts/netns-forward bridges it to the host: 127.0.0.1:<apiserver port> and 10.0.0.1:443 inside -> the apiserver
#   on the host's 127.0.0.1; the host's 127.0.0.1:<kubelet port> -> the kubelet inside (kubectl logs/exec: the
#   apiserver reaches the node by its host name "localhost"); `scripts/cluster node-expose PORT` makes the host's
#   127.0.0.1:PORT reachable from pods at $NODE_HOST_ALIAS:PORT (the provider simulators).
# - Machine left as found: the mount namespace is private, so overlay, volume and pod-netns mounts, containerd's
#   hard-coded /run/containerd (a tmpfs over /run inside), the kubelet's hard-coded /var/log/containers (a private
#   /var/log inside) and the /proc/sys files the kubelet insists on (bind-mounted, kernel untouched) all vanish with
#   it. What does outlive it — cgroup directories under our own cgroup root, shims, container processes — is removed
#   by `down`, which only stops processes whose command line names this state dir or that sit in our cgroup root.

NODE_NAME="localhost"
NODE_IP="10.0.2.1"                    # on a veth inside the namespace (the `dummy` link type is missing here)
NODE_GW="10.0.2.2"
NODE_POD_SUBNET="10.88.0.0/24"
NODE_SERVICE_IP="10.0.0.1"            # first address of --service-cluster-ip-range: in-cluster config's apiserver
NODE_HOST_ALIAS="10.0.1.1"            # pods reach ports exposed by `node-expose` here
PAUSE_IMAGE="registry.local/callback-operator/pause:local"

NODE="$STATE/node"
DEB_ROOT="$NODE_DEB_DIR/root"
# cgroup v1: the kubelet's cgroupRoot, one per state dir, created in every hierarchy and removed by down.
CG_ROOT="/callback-node-$(printf '%s' "$STATE" | sha256sum | cut -c1-10)"

node_enabled() { [[ -f "$STATE/node.enabled" ]]; }

pause_dir() { echo "$TOOLS_DIR/pause-$(sha256sum "$TOOLS_SRC/pause/pause.c" "$REPO/scripts/oci-image" | sha256sum | cut -c1-12)"; }

build_pause() {
  command -v cc >/dev/null || die "the node's pause image needs a C compiler (cc) with static libc"
  mkdir -p "$OUT/bin"
  cc -static -Os -o "$OUT/bin/pause" "$TOOLS_SRC/pause/pause.c" || return 1
  "$REPO/scripts/oci-image" --binary "$OUT/bin/pause" --dest /pause --entrypoint /pause --user 65535:65535 --no-ca \
    --name "$PAUSE_IMAGE" --out "$OUT/pause.oci.tar"
}

node_tools() {
  cmd_node_tools
  build_into "$(pause_dir)" "pause image" build_pause
}

# ---------------------------------------------------------------------------------------------------------- helpers

# node_owned PID : the process's command line names this state dir (every node process is started so that it does).
node_owned() {
  tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline" | grep -qF -- "$STATE/" 
}

node_pid_alive() {
  local f="$RUN/$1.pid" pid
  [[ -f "$f" ]] || return 1
  pid="$(cat "$f")"
  [[ "$pid" =~ ^[0-9]+$ && -r "/proc/$pid/cmdline" ]] && node_owned "$pid"
}

node_stop_proc() {
  local name="$1" pid
  if node_pid_alive "$name"; then
    pid="$(cat "$RUN/$name.pid")"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 75); do node_pid_alive "$name" || break; sleep 0.2; done
    if node_pid_alive "$name"; then
      log "$name (pid $pid) did not exit after SIGTERM; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do node_pid_alive "$name" || break; sleep 0.1; done
    fi
  fi
  rm -f "$RUN/$name.pid"
}

# node_start_proc NAME CMD... : like start_proc, without the control plane's ownership check.
node_start_proc() {
  local name="$1"; shift
  : >"$LOGS/$name.log"
  nohup "$@" >>"$LOGS/$name.log" 2>&1 </dev/null 8>&- 9>&- &
  echo "$!" >"$RUN/$name.pid"
}

holder_pid() { cat "$RUN/node-holder.pid" 2>/dev/null; }

# in_node CMD... : runs CMD inside the node's network + mount namespaces.
in_node() { nsenter --target "$(holder_pid)" --net --mount -- "$@"; }

ctr_node() { "$DEB_ROOT/usr/bin/ctr" --address "$NODE/containerd.sock" -n k8s.io "$@"; }

cgroup_hierarchies() {
  local d
  for d in /sys/fs/cgroup/*; do
    [[ -f "$d/cgroup.procs" && "$d" != /sys/fs/cgroup/unified ]] && echo "$d"
  done
  return 0
}

# ------------------------------------------------------------------------------------------------------------ config

write_node_config() {
  mkdir -p "$NODE"/{cni/net.d,cni/ipam,kubelet,pod-logs,var-log,containerd,runc,proc-sys}
  local apiserver_port="$APISERVER_PORT"
  cat >"$NODE/containerd.toml" <<EOF
version = 2
root = "$NODE/containerd/root"
state = "$NODE/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing"]
[grpc]
  address = "$NODE/containerd.sock"
[ttrpc]
  address = "$NODE/containerd.sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$NODE/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  # No CAP_SYS_RESOURCE in this VM: runc cannot lower oom_score_adj below the parent's.
  restrict_oom_score_adj = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "$DEB_ROOT/usr/bin/runc"
        Root = "$NODE/runc"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$DEB_ROOT/usr/lib/cni"
    conf_dir = "$NODE/cni/net.d"
    max_conf_num = 1
EOF
  cat >"$NODE/cni/net.d/10-node.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "callback-node",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "cni0",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": false,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": "$NODE_POD_SUBNET"}]],
        "routes": [{"dst": "0.0.0.0/0"}],
        "dataDir": "$NODE/cni/ipam"
      }
    }
  ]
}
EOF
  cat >"$NODE/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# The apiserver's client certificate (pki/kubelet-client) is signed by the test CA; nothing else may call in.
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: "$PKI/ca.crt"}
authorization: {mode: AlwaysAllow}
address: 127.0.0.1
port: $KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 0
tlsCertFile: "$PKI/kubelet.crt"
tlsPrivateKeyFile: "$PKI/kubelet.key"
containerRuntimeEndpoint: "unix://$NODE/containerd.sock"
cgroupDriver: cgroupfs
cgroupRoot: "$CG_ROOT"
failCgroupV1: false
failSwapOn: false
makeIPTablesUtilChains: false
protectKernelDefaults: true
podLogsDir: "$NODE/pod-logs"
resolvConf: ""
clusterDomain: cluster.local
hairpinMode: none
registerNode: true
evictionHard: {memory.available: "1Mi", nodefs.available: "1%", nodefs.inodesFree: "1%", imagefs.available: "1%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
enableServer: true
EOF
}

# The kubelet's serving certificate (SAN localhost: the apiserver reaches it there) and the apiserver's client
# certificate for the kubelet API (kubectl logs/exec).
gen_node_pki() {
  local n
  for n in kubelet kubelet-client; do
    [[ -f "$PKI/$n.crt" ]] && continue
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$PKI/$n.key" 2>/dev/null
    if [[ $n == kubelet ]]; then
      openssl req -new -key "$PKI/$n.key" -subj "/CN=system:node:$NODE_NAME/O=system:nodes" -out "$PKI/$n.csr"
      printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
        "extendedKeyUsage=serverAuth" "subjectAltName=DNS:localhost,IP:127.0.0.1" >"$PKI/$n.ext"
    else
      openssl req -new -key "$PKI/$n.key" -subj "/CN=kube-apiserver-kubelet-client/O=system:masters" -out "$PKI/$n.csr"
      printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
        "extendedKeyUsage=clientAuth" >"$PKI/$n.ext"
    fi
    openssl x509 -req -in "$PKI/$n.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -set_serial "0x$(openssl rand -hex 16)" \
      -sha256 -days 3650 -extfile "$PKI/$n.ext" -out "$PKI/$n.crt.tmp" 2>/dev/null
    mv "$PKI/$n.crt.tmp" "$PKI/$n.crt"
  done
}

# Extra kube-apiserver flags when the node is on: pods need their ServiceAccount token volume (the ServiceAccount
# admission plugin), and logs/exec reach the kubelet by host name with the client certificate above.
node_apiserver_flags() {
  echo "--kubelet-preferred-address-types=Hostname"
  echo "--kubelet-client-certificate=$PKI/kubelet-client.crt"
  echo "--kubelet-client-key=$PKI/kubelet-client.key"
}

# ------------------------------------------------------------------------------------------------------------ up

# The holder: new network + mount namespaces (mounts private), set up, then the pause binary keeps them alive.
start_holder() {
  local sysctl_binds="" kv key want
  # The kubelet (protectKernelDefaults) insists on these values; where the kernel's differ, a file bound over the
  # /proc/sys entry inside the private mount namespace shows it the value without changing the kernel.
  for kv in vm/overcommit_memory=1 vm/panic_on_oom=0 kernel/panic=10 kernel/panic_on_oops=1 \
            kernel/keys/root_maxkeys=1000000 kernel/keys/root_maxbytes=25000000; do
    key="${kv%=*}"; want="${kv#*=}"
    if [[ "$(cat "/proc/sys/$key")" != "$want" ]]; then
      echo "$want" >"$NODE/proc-sys/${key//\//.}"
      sysctl_binds+="mount -n --bind $NODE/proc-sys/${key//\//.} /proc/sys/$key; "
    fi
  done
  rm -f "$NODE/holder.ready"
  node_start_proc node-holder unshare --net --mount --propagation private -- bash -euc "
    mount -n -t tmpfs -o mode=755 tmpfs /run
    mount -n --bind $NODE/var-log /var/log
    $sysctl_binds
    ip link set lo up
    ip addr add $NODE_SERVICE_IP/32 dev lo
    ip addr add $NODE_HOST_ALIAS/32 dev lo
    ip link add node0 type veth peer name node1
    ip addr add $NODE_IP/24 dev node0
    ip link set node0 up
    ip link set node1 up
    ip route add default via $NODE_GW dev node0
    touch $NODE/holder.ready
    exec $(pause_dir)/bin/pause $NODE/holder"
  for _ in $(seq 1 100); do
    [[ -f "$NODE/holder.ready" ]] && node_pid_alive node-holder && return 0
    node_pid_alive node-holder || [[ -f "$NODE/holder.ready" ]] || { sleep 0.1; continue; }
    sleep 0.1
  done
  tail -n 20 "$LOGS/node-holder.log" >&2
  die "the node's namespace holder did not start"
}

make_cgroups() {
  local h
  for h in $(cgroup_hierarchies); do
    mkdir -p "$h$CG_ROOT"
    if [[ -f "$h/cpuset.cpus" ]]; then
      cat "$h/cpuset.cpus" >"$h$CG_ROOT/cpuset.cpus"
      cat "$h/cpuset.mems" >"$h$CG_ROOT/cpuset.mems"
    fi
  done
}

wait_for() { # wait_for SECONDS DESCRIPTION COMMAND...
  local secs="$1" what="$2"; shift 2
  local deadline=$(( $(date +%s) + secs ))
  while (( $(date +%s) < deadline )); do "$@" >/dev/null 2>&1 && return 0; sleep 0.3; done
  die "$what did not happen within ${secs}s"
}

node_up() {
  local start; start=$(date +%s)
  local kubectl="$BIN_DIR/bin/kubectl" kc="--kubeconfig=$ADMIN_KUBECONFIG"
  node_tools
  # A fresh node for a fresh etcd: no containers, sandboxes or IP reservations of an earlier run (its mounts went
  # with its namespace, so this is plain files).
  rm -rf "$NODE"
  write_node_config

  # RBAC only (no Node authorizer): the node's identity gets the system:node role.
  "$kubectl" "$kc" create clusterrolebinding callback-operator-test:nodes --clusterrole=system:node \
    --group=system:nodes >/dev/null
  local kcm_kc sched_kc kubelet_kc
  kcm_kc="$(cmd_kubeconfig_for system:kube-controller-manager)"
  sched_kc="$(cmd_kubeconfig_for system:kube-scheduler)"
  kubelet_kc="$(cmd_kubeconfig_for "system:node:$NODE_NAME" system:nodes)"

  log "starting kube-controller-manager and kube-scheduler $K8S_VERSION"
  node_start_proc kube-controller-manager "$KCM_DIR/bin/kube-controller-manager" \
    --kubeconfig="$kcm_kc" --authentication-kubeconfig="$kcm_kc" --authorization-kubeconfig="$kcm_kc" \
    --service-account-private-key-file="$PKI/sa.key" --root-ca-file="$PKI/ca.crt" \
    --use-service-account-credentials --secure-port=0 --leader-elect=false \
    --profiling=false --v=0
  node_start_proc kube-scheduler "$NODE_K8S_DIR/bin/kube-scheduler" \
    --kubeconfig="$sched_kc" --authentication-kubeconfig="$sched_kc" --authorization-kubeconfig="$sched_kc" \
    --secure-port=0 --leader-elect=false --profiling=false --v=0

  log "starting the node's namespaces, forwarders, containerd and kubelet"
  make_cgroups
  start_holder
  local ns="/proc/$(holder_pid)/ns/net"
  stat -L -c %i "$ns" >"$NODE/netns.inode"
  node_start_proc node-forward python3 "$REPO/scripts/netns-forward" --tag "$STATE/node" \
    "$ns" "127.0.0.1:$APISERVER_PORT" - "127.0.0.1:$APISERVER_PORT" \
    "$ns" "$NODE_SERVICE_IP:443" - "127.0.0.1:$APISERVER_PORT" \
    - "127.0.0.1:$KUBELET_PORT" "$ns" "127.0.0.1:$KUBELET_PORT"
  node_start_proc containerd nsenter --target "$(holder_pid)" --net --mount -- \
    env PATH="$DEB_ROOT/usr/bin:$PATH" "$DEB_ROOT/usr/bin/containerd" --config "$NODE/containerd.toml"
  wait_for 30 "containerd answering on $NODE/containerd.sock" ctr_node version
  ctr_node images import "$(pause_dir)/pause.oci.tar" >/dev/null
  grep -q ready "$LOGS/node-forward.log" || wait_for 20 "the forwarders listening" grep -q ready "$LOGS/node-forward.log"

  node_start_proc kubelet nsenter --target "$(holder_pid)" --net --mount -- \
    env PATH="$DEB_ROOT/usr/bin:$PATH" "$NODE_K8S_DIR/bin/kubelet" \
    --config="$NODE/kubelet.yaml" --kubeconfig="$kubelet_kc" --root-dir="$NODE/kubelet" \
    --cert-dir="$NODE/kubelet/pki" --node-ip="$NODE_IP" --hostname-override="$NODE_NAME" --v=0
  wait_for 120 "node $NODE_NAME Ready" "$kubectl" "$kc" wait "node/$NODE_NAME" --for=condition=Ready --timeout=2s
  # Pods need their namespace's default ServiceAccount (created by the controller manager) and the root CA map.
  wait_for 60 "the default ServiceAccount" "$kubectl" "$kc" get serviceaccount default -n default
  log "node $NODE_NAME Ready in $(( $(date +%s) - start ))s (pods $NODE_POD_SUBNET, service IP $NODE_SERVICE_IP, host ports for pods at $NODE_HOST_ALIAS)"
}

# node-expose PORT... : pods reach the host's 127.0.0.1:PORT at $NODE_HOST_ALIAS:PORT.
cmd_node_expose() {
  load_ports || die "no instance in $STATE (run scripts/cluster up --node)"
  node_enabled && node_pid_alive node-holder || die "no node in $STATE (run scripts/cluster up --node)"
  local ns="/proc/$(holder_pid)/ns/net" p rules=()
  for p in "$@"; do
    [[ "$p" =~ ^[0-9]+$ ]] || die "bad port '$p'"
    node_stop_proc "node-expose-$p"
    rules+=("$ns" "$NODE_HOST_ALIAS:$p" - "127.0.0.1:$p")
    node_start_proc "node-expose-$p" python3 "$REPO/scripts/netns-forward" --tag "$STATE/node" "${rules[@]: -4}"
  done
  for p in "$@"; do
    wait_for 20 "the forwarder for port $p" grep -q ready "$LOGS/node-expose-$p.log"
  done
  echo "$NODE_HOST_ALIAS"
}

# ---------------------------------------------------------------------------------------------------------- down

# Every process in our cgroup root: the containers (shims are outside it: containerd starts them in its own cgroup).
cgroup_pids() {
  local h
  for h in $(cgroup_hierarchies); do
    [[ -d "$h$CG_ROOT" ]] && find "$h$CG_ROOT" -name cgroup.procs -exec cat {} + 2>/dev/null
  done | sort -u
  return 0
}

# Processes whose network namespace is the node's (anything started inside it that is still around).
netns_pids() {
  local inode d
  inode="$(cat "$NODE/netns.inode" 2>/dev/null)" || return 0
  [[ -n "$inode" ]] || return 0
  for d in /proc/[0-9]*; do
    [[ "$(stat -L -c %i "$d/ns/net" 2>/dev/null)" == "$inode" ]] && echo "${d#/proc/}"
  done
  return 0
}

# Shims and anything else whose command line names this state dir's node.
named_pids() {
  local d
  for d in /proc/[0-9]*; do
    [[ "${d#/proc/}" == "$$" || "${d#/proc/}" == "$PPID" ]] && continue
    tr '\0' ' ' 2>/dev/null <"$d/cmdline" | grep -qF -- "$STATE/node" && echo "${d#/proc/}"
  done
  return 0
}

kill_all() { # kill_all FUNCTION : SIGKILL what FUNCTION lists until it lists nothing (10 s)
  local pids
  for _ in $(seq 1 50); do
    pids="$($1)"
    [[ -z "$pids" ]] && return 0
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null || true
    sleep 0.2
  done
  log "warning: still running after SIGKILL: $($1 | tr '\n' ' ')"
}

remove_cgroups() {
  local h
  for h in $(cgroup_hierarchies); do
    [[ -d "$h$CG_ROOT" ]] || continue
    find "$h$CG_ROOT" -depth -type d -exec rmdir {} + 2>/dev/null || true
    [[ -d "$h$CG_ROOT" ]] && log "warning: could not remove $h$CG_ROOT"
  done
  return 0
}

node_down() {
  [[ -d "$NODE" || -f "$STATE/node.enabled" ]] || return 0
  log "stopping the node"
  node_stop_proc kubelet
  kill_all cgroup_pids                  # containers (pods' processes and their pause processes)
  node_stop_proc containerd
  node_stop_proc kube-scheduler
  node_stop_proc kube-controller-manager
  local f
  for f in "$RUN"/node-expose-*.pid; do [[ -e "$f" ]] && node_stop_proc "$(basename "$f" .pid)"; done
  node_stop_proc node-forward
  node_stop_proc node-holder
  kill_all named_pids                   # shims (their command line names our containerd socket)
  kill_all netns_pids
  remove_cgroups
  rm -f "$STATE/node.enabled"
}

# Any node of this repository's state dirs (target/cluster/*), for `leftovers --all` after a whole test run whose
# tests made and removed their own state dirs.
all_node_pids() {
  local d
  for d in /proc/[0-9]*; do
    [[ "${d#/proc/}" == "$$" || "${d#/proc/}" == "$PPID" ]] && continue
    tr '\0' ' ' 2>/dev/null <"$d/cmdline" | grep -qE -- "$REPO/target/cluster/[^/ ]+/(node([/ ]|\$)|users/system_kube-)" && echo "${d#/proc/}"
  done
  return 0
}

# leftovers [--all] : lists what a node of this state dir (--all: of any state dir of this repository) could leave
# behind: processes, mounts, links, private addresses on the host, cgroup dirs, kubelet log paths, /run/containerd.
# Exit 1 when anything is found.
cmd_leftovers() {
  local found=0 out all="" cg_glob="$CG_ROOT" scope="$STATE" h d p
  if [[ "${1:-}" == --all ]]; then all=1; cg_glob="/callback-node-*"; scope="$REPO/target/cluster/"; fi
  if [[ -n "$all" ]]; then out="$(all_node_pids)"; else out="$(named_pids; netns_pids; cgroup_pids)"; fi
  if [[ -n "$out" ]]; then
    found=1
    for p in $(echo "$out" | sort -u); do echo "process: $p $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | cut -c1-150)"; done
  fi
  out="$(grep -F -e "$scope" -e /run/containerd -e /var/lib/kubelet /proc/self/mountinfo || true)"
  [[ -n "$out" ]] && { found=1; sed 's/^/mount: /' <<<"$out"; }
  out="$(ip -o link show | grep -E ': (cni0|node0|node1|veth[^:]*)[@:]' || true)"
  [[ -n "$out" ]] && { found=1; sed 's/^/link: /' <<<"$out"; }
  out="$(ip -o addr show | grep -E 'inet (10\.|172\.(1[6-9]|2[0-9]|3[01])\.|192\.168\.)' || true)"
  [[ -n "$out" ]] && { found=1; sed 's/^/private address on the host: /' <<<"$out"; }
  local h
  for h in $(cgroup_hierarchies); do
    for d in $h$cg_glob; do
      [[ -d "$d" ]] && { found=1; echo "cgroup: $d"; }
    done
  done
  out="$(find /var/log/containers /var/log/pods -mindepth 1 -maxdepth 1 2>/dev/null | head -n 20 || true)"
  [[ -n "$out" ]] && { found=1; sed 's/^/kubelet log path: /' <<<"$out"; }
  [[ -e /run/containerd ]] && { found=1; echo "path: /run/containerd"; }
  if (( found )); then return 1; fi
  echo "no leftovers of ${all:+any node under }$scope"
}
