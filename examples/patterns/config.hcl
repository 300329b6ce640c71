# Two patterns that run out of the box: fake agents (fake-agent.sh) stand
# in for Claude Code and Codex, so no model or API key is needed.
#
#   make build
#   bin/parallax-host run examples/patterns/config.hcl
#   bin/parallax-host execute code-review --input files=auth.ts        # in another shell
#   bin/parallax-host execute feature-team --input feature="password reset"
#
# For real agents, delete the two agent_type blocks.

server {
  listen   = "127.0.0.1:3000"
  data_dir = "../../.parallax"
}

plugin_dir = "../../bin/plugins"

runtime "local" {
  priority = 10
}

agent_type "claude" {
  command = ["./fake-agent.sh", "claude"]
}

agent_type "codex" {
  command = ["./fake-agent.sh", "codex"]
}

# A capability pattern: three reviewers vote. Registered agents with the
# capability go first (POST /api/agents, or examples/agent-http); the host
# spawns Claude agents for the rest and stops them afterwards.
pattern "code-review" {
  agents {
    capabilities = ["code_review"]
    count        = 3
    agent_type   = "claude"
  }
  strategy = "consensus"
  task     = "Review ${input.files} for security issues"
  timeout  = "5m"
}

# An org chart: an architect designs, two engineers implement the design
# (each gets the step), and a reviewer who reports to the architect
# reviews their work.
pattern "feature-team" {
  structure {
    role "architect" {
      agent_type = "claude"
      managed    = true
    }
    role "engineer" {
      agent_type = "codex"
      managed    = true
      reports_to = "architect"
      count      = 2
    }
    role "reviewer" {
      agent_type = "claude"
      managed    = true
      reports_to = "architect"
    }
  }
  workflow {
    step "design" {
      role = "architect"
      task = "Design ${input.feature}"
    }
    step "implement" {
      role    = "engineer"
      task    = "Implement ${input.feature} as designed: ${steps.design.result}"
      retries = 1
    }
    step "review" {
      role = "reviewer"
      task = "Review the ${length(steps.implement.results)} implementations of ${input.feature}"
    }
  }
  timeout = "10m"
}
