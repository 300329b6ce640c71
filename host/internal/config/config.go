package config

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// Config is the host's configuration. Every path in it is absolute: paths in
// the file are relative to the file's own directory, not to the working
// directory, so a config means the same wherever the host is started from.
type Config struct {
	Server    Server
	PluginDir string
	Runtimes  []Runtime
	// AgentTypes holds the agent_type blocks by name; see AgentType for a
	// type without a block.
	AgentTypes map[string]AgentType
	// Agents are the agent blocks; Registry is nil without a registry block.
	Agents   []Agent
	Registry *Registry
	// Catalog bounds what the catalogue takes; see the catalog block.
	Catalog Catalog
	// Patterns are the pattern blocks by name.
	Patterns map[string]Pattern
	// Telemetry is the telemetry block; its zero value turns tracing off.
	Telemetry Telemetry
	// WarmPool lists the warm pools: the top-level warm_pool block's
	// entries, then those of each runtime's, in file order.
	WarmPool []WarmPool

	// Files holds the source of every file read, by the name diagnostics
	// use, so that diagnostics found later can quote it.
	Files map[string][]byte
}

// Server is the server {} block.
type Server struct {
	Listen  string
	Token   string // empty means no authentication
	DataDir string
	// AllowedWorkdirs, if not empty, are the directories an agent's workdir
	// must be in.
	AllowedWorkdirs []string
	// AllowedOrigins are the other sites' origins ("https://app.example.com")
	// whose pages may call the API, WebSockets included.
	AllowedOrigins []string
	// Hosts are extra names the API answers to in the Host header, beside
	// IP addresses and localhost; any other name is refused, which stops
	// DNS rebinding. Entries may use path.Match wildcards ("*.example.com").
	Hosts []string
	// Limits bound what callers can make the host hold.
	MaxAgents           int
	MaxWatchersPerAgent int
	MaxEventSubscribers int
	// IdleTimeout closes keep-alive connections left idle that long.
	IdleTimeout time.Duration
	// AllowCommands, when false, refuses the "custom" type and command
	// overrides, for hosts shared by several callers.
	AllowCommands bool
	// EnvAllowlist, if not empty, lists the env names (path.Match patterns)
	// a spawn request may set.
	EnvAllowlist []string
	// AgentListen, if set, is where the host serves the Agent protocol's
	// gRPC service for its managed agents (grpc://<addr>/<agent id>).
	AgentListen string
	// HealthInterval is how often registered agents are health-checked.
	HealthInterval time.Duration
	// History is how long ended agents, their transcripts, the events and
	// pattern executions are kept in the store.
	History time.Duration
	// KeepAgents leaves the agents and runtime plugins running when the
	// host stops, for the next start to adopt (an upgrade, say).
	KeepAgents bool
}

// Runtime is one runtime "<name>" {} block.
type Runtime struct {
	Name       string
	PluginPath string
	Priority   *int // nil means the plugin's own default priority
	Enabled    bool
	// ConfigBody is the config {} block, nil when there is none. Only the
	// plugin knows its schema; see DecodeRuntimeConfig.
	ConfigBody hcl.Body
	DeclRange  hcl.Range

	dir       string       // the config file's directory, for file() in ConfigBody
	warmPools []*hcl.Block // decoded after every runtime is known
}

const (
	defaultListen    = "127.0.0.1:3000"
	defaultDataDir   = ".parallax"
	defaultPluginDir = "./bin/plugins"
)

// rootSchema lists what may appear at the top of the file. A new block type
// goes here and gets a case in decodeRoot.
var rootSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "plugin_dir"},
	},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "server"},
		{Type: "runtime", LabelNames: []string{"name"}},
		{Type: "agent_type", LabelNames: []string{"name"}},
		{Type: "agent", LabelNames: []string{"id"}},
		{Type: "registry", LabelNames: []string{"kind"}},
		{Type: "catalog"},
		{Type: "pattern", LabelNames: []string{"name"}},
		{Type: "telemetry"},
		{Type: "warm_pool"},
	},
}

// Load reads, decodes and checks the config file at path. It returns either
// a Config or diagnostics with at least one error, never both; warnings may
// come with a Config.
func Load(path string) (*Config, hcl.Diagnostics) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot read config file",
			Detail:   err.Error(),
		}}
	}
	return load(path, src)
}

// load is Load on source already read, so the fuzz test needn't touch disk.
func load(path string, src []byte) (*Config, hcl.Diagnostics) {
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot resolve config directory",
			Detail:   fmt.Sprintf("%s: %v", path, err),
		}}
	}

	file, diags := hclsyntax.ParseConfig(src, path, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, diags
	}
	diags = append(diags, checkNumbers(file.Body.(*hclsyntax.Body))...)
	if diags.HasErrors() {
		return nil, diags
	}

	d := &decoder{dir: dir, ctx: evalContext(dir)}
	cfg := d.decodeRoot(file.Body)
	diags = append(diags, d.diags...)
	sortByPosition(diags)
	if diags.HasErrors() {
		return nil, diags
	}
	cfg.Files = map[string][]byte{path: src}
	return cfg, diags
}

// decoder collects diagnostics while decoding, so that one run reports every
// mistake in the file rather than the first.
type decoder struct {
	dir   string
	ctx   *hcl.EvalContext
	diags hcl.Diagnostics
}

func (d *decoder) report(diags ...*hcl.Diagnostic) {
	d.diags = append(d.diags, diags...)
}

func (d *decoder) decodeRoot(body hcl.Body) *Config {
	content, diags := content(body, rootSchema)
	for _, diag := range diags {
		if diag.Summary == "Extraneous label for warm_pool" {
			diag.Detail += ` For a pool on one runtime, put a warm_pool block inside that runtime's block: runtime "docker" { warm_pool { claude = 1 } }.`
		}
	}
	d.report(diags...)

	cfg := &Config{
		Server:    DefaultServer(filepath.Join(d.dir, defaultDataDir)),
		PluginDir: filepath.Join(d.dir, defaultPluginDir),
	}
	if attr, ok := content.Attributes["plugin_dir"]; ok {
		if p, ok := d.path(attr, "plugin_dir"); ok {
			cfg.PluginDir = p
		}
	}

	// The plugin directory must be known before any runtime is decoded, as
	// it gives their default plugin paths; hence blocks after attributes.
	var server, runtimes, agentTypes, agents, registries, catalogs, patterns, telemetry, warmPools []*hcl.Block
	for _, block := range content.Blocks {
		switch block.Type {
		case "server":
			server = append(server, block)
		case "runtime":
			runtimes = append(runtimes, block)
		case "agent_type":
			agentTypes = append(agentTypes, block)
		case "agent":
			agents = append(agents, block)
		case "registry":
			registries = append(registries, block)
		case "catalog":
			catalogs = append(catalogs, block)
		case "pattern":
			patterns = append(patterns, block)
		case "telemetry":
			telemetry = append(telemetry, block)
		case "warm_pool":
			warmPools = append(warmPools, block)
		}
	}
	d.decodeServer(&cfg.Server, server)
	cfg.Runtimes = d.decodeRuntimes(runtimes, cfg.PluginDir)
	cfg.AgentTypes = d.decodeAgentTypes(agentTypes)
	cfg.Agents = d.decodeAgents(agents)
	cfg.Registry = d.decodeRegistry(registries)
	cfg.Catalog = d.decodeCatalog(catalogs)
	cfg.Patterns = d.decodePatterns(patterns)
	cfg.Telemetry = d.decodeTelemetry(telemetry)
	cfg.WarmPool = d.decodeWarmPools(warmPools, cfg.Runtimes)

	// A misspelt runtime block was already reported; saying that there is
	// none would only repeat it.
	if len(runtimes) == 0 && !diags.HasErrors() {
		d.report(&hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "No runtime configured",
			Detail:   `The host needs at least one runtime to start agents on; add runtime "local" {}.`,
			Subject:  body.MissingItemRange().Ptr(),
		})
	}
	return cfg
}

// AgentType returns the configuration of an agent type, with defaults for
// a type that has no block.
func (c *Config) AgentType(name string) AgentType {
	if at, ok := c.AgentTypes[name]; ok {
		return at
	}
	return DefaultAgentType(name)
}
