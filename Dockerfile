# syntax=docker/dockerfile:1
#
# docker build -t imalert .
# docker run -p 8080:8080 imalert                       # built-in defaults
# docker run -p 8080:8080 -v $PWD/etc:/etc/imalert:ro -v imalert-data:/var/lib/imalert \
#   -e SLACK_WEBHOOK_URL=... imalert serve --config /etc/imalert/imalert.yaml

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
# A static binary: no libc needed at run time (modernc.org/sqlite is pure Go).
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/imalert ./cmd/imalert \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
# distroless/static carries CA certificates (for Slack and SMTP over TLS) and
# a non-root user, 65532.
COPY --from=build /out/imalert /usr/local/bin/imalert
COPY --from=build --chown=65532:65532 /out/data /var/lib/imalert
COPY config.example.yaml /etc/imalert/imalert.example.yaml
COPY rules/im.yaml /etc/imalert/rules/im.example.yaml
USER 65532:65532
WORKDIR /var/lib/imalert
VOLUME /var/lib/imalert
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/imalert"]
# In a container the listener must not be loopback-only.
CMD ["serve", "--listen", "0.0.0.0:8080"]
