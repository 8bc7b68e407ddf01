# The builder's USER does not carry over: the final stage runs as root.
# expect: dockerfile
FROM rust:1.95-bookworm AS build
USER 1000
RUN cargo build --release
FROM debian:12.8-slim
COPY --from=build /src/target/release/lyceum /usr/local/bin/lyceum
ENTRYPOINT ["/usr/local/bin/lyceum"]
