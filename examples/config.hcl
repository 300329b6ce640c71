# The host's configuration for `make run`. Paths are relative to this file.

server {
  listen   = "127.0.0.1:3000"
  # Set PARALLAX_TOKEN to require "Authorization: Bearer <token>" on the API.
  # Without a token the host only listens on loopback.
  token    = env("PARALLAX_TOKEN")
  data_dir = "../.parallax"
  # Workdirs of spawned agents must be inside these; unset means anywhere.
  # allowed_workdirs = ["~/src", "/tmp"]
  # Other sites whose pages may call the API (the host's own may).
  # allowed_origins = ["https://app.example.com"]
  # Names the API answers to beside IP addresses and localhost.
  # hosts = ["parallax.example.com"]
}

plugin_dir = "../bin/plugins"

# Agents run in a local PTY. Lower priority numbers are tried first.
runtime "local" {
  priority = 10
}

# Agents in containers on a Docker engine (make build builds the plugin,
# make images the images). Uncomment to enable; see the README.
# runtime "docker" {
#   priority = 20
#   config {
#     network       = "none"            # agents reach nothing; "bridge" to reach model APIs
#     images        = { claude = "parallax/agent-claude:latest", codex = "parallax/agent-codex:latest" }
#     default_image = "parallax/agent-base:latest"
#     pull_policy   = "if-missing"      # or "never", "always"
#     workdir_roots = ["/tmp"]          # workdirs are mounted at /workspace only from here
#     default_memory = "4Gi"
#   }
# }

# Agents as pods on a Kubernetes cluster, attached through its API server.
# See examples/kubernetes/ for the RBAC it needs. Uncomment to enable.
# runtime "kubernetes" {
#   priority = 30
#   config {
#     kubeconfig     = "~/.kube/config"  # or in_cluster = true
#     namespace      = "parallax-agents"
#     images         = { claude = "registry.example.com/agent-claude:latest" }
#     default_memory = "2Gi"
#   }
# }

# How each agent CLI starts; all optional. The binaries must be on PATH,
# or named here.
agent_type "claude" {
  approval = "autonomous" # or "ask": the CLI's permission prompts reach the API
}

# Pattern executions as OpenTelemetry traces, to an OTLP collector.
# Off without this block; see the README.
# telemetry {
#   tracing {
#     endpoint = "127.0.0.1:4318"
#     insecure = true
#     headers  = { authorization = env("OTLP_TOKEN") }
#   }
# }

# Keep agents spawned and ready, so that a spawn asking for nothing special
# (no workdir, env, credentials, command or resources) gets one at once.
# One argument per line. Uncomment to enable; see the README.
# warm_pool {
#   claude = 2
# }
# A pool on one runtime goes inside its block:
# runtime "docker" { ... warm_pool { codex = 1 } }
