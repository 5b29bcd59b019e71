# opsbot's image: `docker build -t opsbot .`
# Build stage: the release binary, with the commands, playbooks and knowledge
# catalogue embedded (a config without commands:/playbooks: uses them).
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
# make builds jemalloc, the allocator linked into the binary (src/main.rs).
RUN apt-get update && apt-get install -y --no-install-recommends make \
 && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cargo build --release --locked --bin opsbot \
 && strip target/release/opsbot

# Runtime: glibc and CA certificates only, no shell, a non-root user.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/opsbot /usr/local/bin/opsbot
USER nonroot:nonroot
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/opsbot"]
CMD ["serve", "--config", "/etc/opsbot/opsbot.yaml"]
