# Image of the harness for the in-cluster gate Job (manifests/chaos-runner). It carries the
# package, the experiments, the locustfiles and the manifests, and a kubectl built from Go
# modules by the project's own build script (the gate port-forwards the gateway to loopback).
FROM golang:1.26 AS kubectl
COPY src/aideon_resilience/adapters/localcluster/build.sh src/aideon_resilience/adapters/localcluster/versions.env /build/
RUN AIDEON_CACHE_DIR=/cache KUBE_BINARIES=kubectl bash /build/build.sh kubernetes

FROM python:3.11-slim
RUN useradd --uid 10001 --create-home aideon
WORKDIR /opt/aideon
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-cache-dir .
COPY chaos ./chaos
COPY loadtests ./loadtests
COPY manifests ./manifests
COPY --from=kubectl /cache/bin/kubectl /usr/local/bin/kubectl
USER 10001
ENTRYPOINT ["aideon-resilience"]
