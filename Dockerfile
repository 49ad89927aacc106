# syntax=docker/dockerfile:1

# Build stage: a static binary (pure Go, SQLite included), so the runtime image needs no libc.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/passpush . \
 && mkdir -p /out/data

# Runtime stage: the binary, CA certificates for the wallet and webhook calls, and a writable /data for the
# SQLite default. It runs as an unprivileged user.
FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/passpush /usr/local/bin/passpush
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
WORKDIR /data
ENV PASSPUSH_HTTP_ADDR=:8080
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/passpush"]
CMD ["serve"]
