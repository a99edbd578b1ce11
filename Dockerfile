# kube-guardian: one static-ish binary on a distroless base (glibc, CA certificates, nothing else).
#   docker build -t kube-guardian .
#   docker run --rm -i kube-guardian check - < deploy.yaml
# tests/dockerfile.rs lints this file (hadolint) and runs the build stage's cargo command.

# Builder on Debian 12 (bookworm): the same glibc as the runtime image below.
FROM docker.io/library/rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
# The release build the tests run (tests/dockerfile.rs extracts this line).
RUN cargo build --release --locked --bin kube-guardian

FROM gcr.io/distroless/cc-debian12:nonroot
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="kube-guardian" \
      org.opencontainers.image.description="Kubernetes governance: policies, admission, audit and an on-call console" \
      org.opencontainers.image.source="https://github.com/kube-guardian/kube-guardian" \
      org.opencontainers.image.url="https://github.com/kube-guardian/kube-guardian" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
COPY --from=build /src/target/release/kube-guardian /usr/local/bin/kube-guardian
# distroless's nonroot user, numerically, so runAsNonRoot can verify it. The binary writes nothing
# to the filesystem (logs go to stdout), so a read-only root filesystem works.
USER 65532:65532
ENTRYPOINT ["kube-guardian"]
CMD ["--help"]
