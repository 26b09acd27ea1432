# confab in a container: build with the same toolchain and flags as CI,
# run as an unprivileged user from a small Debian image.
#
#   docker build -t confab .
#   docker run -p 8000:8000 -v confab-data:/data confab

FROM rust:1-slim-bookworm AS build
WORKDIR /src
# Dependencies first, so code changes do not rebuild them. The workspace
# names bench/ (the load generator), so its manifest comes too; only the
# server is built.
COPY Cargo.toml Cargo.lock ./
COPY bench/Cargo.toml bench/Cargo.toml
RUN mkdir -p src bench/src && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
    && echo 'fn main() {}' > bench/src/main.rs \
    && cargo build --release --locked -p confab \
    && rm -rf src
# (bench/'s stub stays: the workspace needs a target for every member.)
COPY src src
COPY migrations migrations
COPY templates templates
COPY static static
RUN touch src/main.rs src/lib.rs && cargo build --release --locked -p confab \
    && strip target/release/confab

FROM debian:bookworm-slim
RUN useradd --system --uid 10001 --home-dir /data --create-home confab
COPY --from=build /src/target/release/confab /usr/local/bin/confab
USER confab
WORKDIR /data
ENV CONFAB_BIND=0.0.0.0:8000 \
    DATABASE_URL=/data/confab.db \
    RUST_LOG=info
EXPOSE 8000
VOLUME ["/data"]
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
    CMD ["confab", "healthcheck"]
ENTRYPOINT ["confab"]
CMD ["serve"]
