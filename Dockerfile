# syntax=docker/dockerfile:1
# Build a static medbridge binary, then ship it alone in a non-root image.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/medbridge ./cmd/medbridge \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/medbridge /usr/local/bin/medbridge
COPY --from=build --chown=nonroot:nonroot /out/data /data
USER nonroot:nonroot
ENV MEDBRIDGE_ADDR=0.0.0.0:8080 \
    MEDBRIDGE_DATA_DIR=/data \
    MEDBRIDGE_LOG_FORMAT=json
VOLUME /data
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["/usr/local/bin/medbridge", "healthcheck", "--url", "http://127.0.0.1:8080/readyz"]
ENTRYPOINT ["/usr/local/bin/medbridge"]
CMD ["serve"]
