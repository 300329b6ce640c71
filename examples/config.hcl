# The host's configuration for `make run`. Paths are relative to this file.

server {
  listen   = "127.0.0.1:3000"
  # Set PARALLAX_TOKEN to require "Authorization: Bearer <token>" on the API.
  # Without a token the host only listens on loopback.
  token    = env("PARALLAX_TOKEN")
  data_dir = "../.parallax"
  # Workdirs of spawned agents must be inside these; unset means anywhere.
  # allowed_workdirs = ["~/src", "/tmp"]
  # Other sites whose pages may open the WebSockets (the host's own may).
  # allowed_origins = ["app.example.com"]
}

plugin_dir = "../bin/plugins"

# Agents run in a local PTY. Lower priority numbers are tried first.
runtime "local" {
  priority = 10
}

# How each agent CLI starts; all optional. The binaries must be on PATH,
# or named here.
agent_type "claude" {
  approval = "autonomous" # or "ask": the CLI's permission prompts reach the API
}
