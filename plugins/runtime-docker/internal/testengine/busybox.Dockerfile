# The image the runtime-docker tests run: Debian's static busybox and
# nothing else, built without any registry. test/docker/setup.sh and the
# tests themselves (testengine.go) build it, with /bin/busybox copied into
# the context.
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
RUN ["/bin/mkdir", "-p", "/tmp", "/workspace"]

