# The one image the Helm chart runs (charts/dezky/README.md, "Image and commands"): the `dezky`
# binary at /usr/local/bin/dezky, run as the unprivileged user 65532 on a read-only root file
# system; the operator runs `dezky operator --config ...`, the API server `dezky api --config ...`.
#
#   docker build -t ghcr.io/dezky/dezky:$(git describe --tags --always) .
#
# tests/py/test_image.py checks this file against the chart (binary path, user, ports).

# --- build: the release binary, from the locked dependency versions ---
FROM docker.io/library/rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --package dezky --bin dezky \
 && install -D -m 0755 target/release/dezky /out/dezky

# --- run: glibc and CA certificates only, no shell, no package manager ---
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/dezky /usr/local/bin/dezky
USER 65532:65532
# 9100: the operator's metrics and probes; 8080: the API server's API, UI, metrics and probes
EXPOSE 9100 8080
ENTRYPOINT ["/usr/local/bin/dezky"]
CMD ["--help"]
