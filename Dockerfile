# kinesyslog in a distroless image, running as a non-root user.
#
#   docker build -t kinesyslog .
#   docker run -d --name kinesyslog -v kinesyslog-spool:/var/spool/kinesyslog \
#     -p 5514:5514/udp -p 5514:5514 -p 9100:9100 \
#     -e KINESYSLOG_STREAM=my-stream -e AWS_REGION=us-east-1 \
#     -e KINESYSLOG_UDP_PORT=5514 -e KINESYSLOG_TCP_PORT=5514 -e KINESYSLOG_TLS_PORT=0 \
#     -e KINESYSLOG_PROMETHEUS_PORT=9100 kinesyslog
#
# The build stage compiles with the project's own task (the permissions, the `net` unstable
# flag and the spool worker are in deno.json), so the image runs the same binary as
# `deno task compile` makes. Keep the Deno version in step with scripts/deno.

FROM denoland/deno:2.9.6 AS build
WORKDIR /src
COPY deno.json deno.lock main.ts ./
COPY src ./src
RUN deno task compile \
 && mkdir -p /spool \
 && chown 65532:65532 /spool

# The compiled binary needs glibc and libgcc, which the `cc` variant carries; `nonroot` is
# uid 65532.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/dist/kinesyslog /usr/local/bin/kinesyslog
# The spool must outlive the container: mount a volume here. It is created owned by the
# non-root user, so a new named volume starts out writable.
COPY --from=build --chown=65532:65532 /spool /var/spool/kinesyslog
VOLUME ["/var/spool/kinesyslog"]
ENV KINESYSLOG_SPOOL_DIR=/var/spool/kinesyslog
USER 65532:65532
# Suggested ports; none is opened unless configured (the TLS default 6514 needs a certificate).
EXPOSE 5514/udp 5514/tcp 6514/tcp 12201/udp 9100/tcp
# A second SIGTERM exits at once; give `docker stop` time for the first to drain (-t 60).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/kinesyslog"]
CMD ["listen"]
