# callback-operator — the two commands of the quick start, and a few helpers.
# Everything runs against a real kube-apiserver + etcd built from Go modules (scripts/cluster), never a mock.

.PHONY: demo demo-down test test-readings lint crd bench soak cluster-up cluster-down

## demo: control plane + provider simulators + operator + examples/, then print their status
demo:
	scripts/demo up

## demo-down: stop everything `make demo` started
demo-down:
	scripts/demo down

## test: every test (unit, simulators, end to end against the local control plane), plus fmt and clippy
test:
	scripts/test

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
