# A floating base image.
# expect: image-tag
FROM rust:latest AS build
RUN cargo build --release
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/lyceum /usr/local/bin/lyceum
USER 65532
ENTRYPOINT ["/usr/local/bin/lyceum"]
