# Images of the oci-ipam operator and node agent, built from this workspace.
#
#   docker build --target operator -t ghcr.io/oci-ipam/oci-ipam-operator:0.1.0 .
#   docker build --target node     -t ghcr.io/oci-ipam/oci-ipam-node:0.1.0 .
#
# (the names and tags are the Helm chart's defaults: image.* and nodeAgent.image.*).
#
# Both final images are distroless (glibc and libgcc only, no shell) and run as the non-root
# user 65532. The node agent needs CAP_NET_ADMIN and uid 0 at run time; its DaemonSet grants
# exactly that (see deploy/helm/oci-ipam/templates/node-agent-daemonset.yaml), not the image.
#
# Known gap: this file has never been built by the project, whose machines reach no container
# registry and run no Docker daemon; only its cargo command has been run (on a Debian 12 host,
# giving binaries that need glibc 2.34+, libgcc_s and libm, all in distroless cc-debian12).

# The toolchain the workspace is built and tested with (Cargo.toml's rust-version is the floor).
ARG RUST_VERSION=1.95

FROM docker.io/library/rust:${RUST_VERSION}-bookworm AS build
WORKDIR /src
# The workspace's release profile keeps line tables (some 110 MB per binary); the images drop
# them and keep the symbols, so a panic's backtrace still names functions (about 19 MB).
ENV CARGO_PROFILE_RELEASE_STRIP=debuginfo
COPY . .
# The registry and target caches persist between builds; the binaries are copied out of the
# cached target directory into the image layer.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p oci-ipam-operator -p oci-ipam-node \
        --bin oci-ipam-operator --bin oci-ipam-node \
 && mkdir -p /out \
 && cp target/release/oci-ipam-operator target/release/oci-ipam-node /out/

FROM gcr.io/distroless/cc-debian12:nonroot AS node
COPY --from=build /out/oci-ipam-node /usr/local/bin/oci-ipam-node
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/oci-ipam-node"]

# The last stage is the default target: the operator.
FROM gcr.io/distroless/cc-debian12:nonroot AS operator
COPY --from=build /out/oci-ipam-operator /usr/local/bin/oci-ipam-operator
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/oci-ipam-operator"]
