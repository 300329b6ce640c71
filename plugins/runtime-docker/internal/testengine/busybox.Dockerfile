# The image the runtime-docker tests run: Debian's static busybox and
# nothing else, built without any registry. test/docker/setup.sh and the
# tests themselves (testengine.go) build it, with /bin/busybox copied into
# the context.
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
RUN ["/bin/mkdir", "-p", "/tmp", "/workspace"]
# A named user like the agent images' own, with no home yet.
RUN ["/bin/sh", "-c", "printf 'root:x:0:0::/root:/bin/sh\\nagent:x:1000:1000::/home/agent:/bin/sh\\n' >/etc/passwd && printf 'root:x:0:\\nagent:x:1000:\\n' >/etc/group"]

