# callback-operator — the two commands of the quick start, and a few helpers.
# Everything runs against a real kube-apiserver + etcd built from Go modules (scripts/cluster), never a mock.

.PHONY: demo demo-host demo-down image test test-pods test-readings lint crd bench soak cluster-up cluster-down

## demo: control plane + node, the image built here, `helm install` (2 pods), simulators, examples/, then the pods,
## the leader and the registrations
demo:
	scripts/demo up

## demo-host: the same with the operator as a host process (debug build, no node or image; seconds to start)
demo-host:
	scripts/demo up --host

## demo-down: stop everything `make demo` started
demo-down:
	scripts/demo down

## image: the operator's OCI image archive from the release binary, without a registry or container engine
## (target/image/callback-operator.oci.tar, image docker.io/library/callback-operator:$(IMAGE_TAG); same user,
## entrypoint and files as the Dockerfile, whose final stage it reads). Load it with `ctr images import`.
IMAGE_TAG ?= local
image:
	cargo build --release --locked --bin callback-operator
	scripts/oci-image --dockerfile Dockerfile --binary target/release/callback-operator \
		--name docker.io/library/callback-operator:$(IMAGE_TAG) --out target/image/callback-operator.oci.tar

## test: every test (unit, simulators, end to end against the local control plane), plus fmt and clippy
test:
	scripts/test

## test-pods: only the chart-as-pods end-to-end test (tests/e2e_pods.rs, its own control plane with a node; also
## part of `make test`)
test-pods:
	scripts/cluster node-tools
	eval "$$(scripts/cluster env 2>/dev/null)" && cargo test --test e2e_pods

## test-readings: the provider e2e suites once per reading of each provider contract (issue #14), as a table
test-readings:
	scripts/test-readings

## lint: formatting and clippy only
lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

## crd: regenerate crds/ (and the chart's copy) from the Rust types
crd:
	cargo run -q -- crd > crds/callbackregistrations.callback-operator.io.yaml
	if [ -d charts/callback-operator/crds ]; then cp crds/*.yaml charts/callback-operator/crds/; fi

## bench: time to Ready, provider calls, status writes, RSS and CPU at 100 / 1,000 / 10,000 registrations, beside
## the null controller's; ARGS go to the bench, e.g. `make bench ARGS="--shards 4 --sizes 100000"` (docs/benchmark.md)
bench:
	scripts/bench $(ARGS)

## soak: control-plane faults, then the randomized soak, 1,000 operations on seeds 1 and 2 (docs/reliability.md)
## (SOAK_SEEDS, SOAK_OPS override; `scripts/soak --seed N --ops M` replays one run)
soak:
	scripts/soak

cluster-up:
	scripts/cluster up

cluster-down:
	scripts/cluster down
