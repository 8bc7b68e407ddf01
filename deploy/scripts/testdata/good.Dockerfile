# A pinned multi-stage build that runs as non-root: must pass.
# expect: none
ARG RUST_VERSION=1.95
FROM rust:${RUST_VERSION}-bookworm AS build
RUN cargo build --release
FROM build AS tested
RUN cargo test
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/lyceum /usr/local/bin/lyceum
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/lyceum"]
