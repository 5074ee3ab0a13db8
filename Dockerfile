# syntax=docker/dockerfile:1.7
# The callback-operator image: built with the Rust toolchain, shipped on distroless (glibc, CA certificates for the
# providers' HTTPS endpoints, user 65532, no shell, no package manager).
#
#   docker build -t <registry>/callback-operator:<version> .
#
# The development machine has no container engine: there `make image` (scripts/oci-image) builds the same image —
# same user, entrypoint, command, environment and binary path, read from the final stage below — as an OCI archive
# from the release binary, and the tests run it as pods (docs/control-plane.md). See docs/install.md.

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-bookworm AS build
WORKDIR /src
# The whole workspace: Cargo resolves the test-only members too (their manifests), even for one binary.
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked --bin callback-operator \
 && install -D -m 0755 target/release/callback-operator /out/callback-operator

FROM gcr.io/distroless/cc-debian12:nonroot
LABEL org.opencontainers.image.title="callback-operator" \
      org.opencontainers.image.description="Keeps webhook/callback registrations true at edna Pulse, Unisender Go and DocStudio" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /out/callback-operator /usr/local/bin/callback-operator
# The allocator commits its arenas lazily: ~12 MiB less resident memory (docs/benchmark.md).
ENV MIMALLOC_ARENA_EAGER_COMMIT=0
# Numeric, so runAsNonRoot can verify it without reading /etc/passwd.
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/callback-operator"]
CMD ["run"]
