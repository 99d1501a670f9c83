# residual in a container: built here, run anywhere (Kubernetes Jobs, AWS Batch, CI).
#
#   docker build -t residual .
#   docker run --rm --read-only -v "$PWD/work:/work" -e GITHUB_TOKEN residual \
#       scan --config /work/residual.toml --leavers /work/leavers.csv --out /work/report
#
# The image holds the binary and CA certificates only, runs as a non-root user, and writes
# nothing but the report folder (mount one): it works with a read-only root filesystem.

FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin residual \
 && install -m 0755 target/release/residual /residual

# glibc and CA certificates, no shell, no package manager; uid 65532.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /residual /usr/local/bin/residual
USER 65532:65532
WORKDIR /work
ENTRYPOINT ["/usr/local/bin/residual"]
CMD ["--help"]
