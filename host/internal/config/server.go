package config

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
)

var serverSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "listen"},
		{Name: "token"},
		{Name: "token_file"},
		{Name: "data_dir"},
		{Name: "allowed_workdirs"},
		{Name: "allowed_origins"},
		{Name: "agent_listen"},
		{Name: "health_interval"},
		{Name: "hosts"},
		{Name: "max_agents"},
		{Name: "max_watchers_per_agent"},
		{Name: "max_event_subscribers"},
		{Name: "idle_timeout"},
		{Name: "allow_commands"},
		{Name: "env_allowlist"},
		{Name: "history"},
		{Name: "keep_agents"},
	},
}

// The server's defaults. The limits are far above what one machine runs,
// and low enough that a runaway caller can't exhaust the host.
const (
	DefaultMaxAgents           = 200
	DefaultMaxWatchersPerAgent = 32
	DefaultMaxEventSubscribers = 256
	DefaultIdleTimeout         = 60 * time.Second
	// DefaultHistory keeps ended agents, their transcripts and the events
	// a week: long enough to look back on a run, short enough that the
	// store doesn't grow for ever.
	DefaultHistory = 168 * time.Hour
)

// DefaultServer is the server block's defaults, with data under dataDir.
func DefaultServer(dataDir string) Server {
	return Server{
		Listen:              defaultListen,
		DataDir:             dataDir,
		HealthInterval:      15 * time.Second,
		MaxAgents:           DefaultMaxAgents,
		MaxWatchersPerAgent: DefaultMaxWatchersPerAgent,
		MaxEventSubscribers: DefaultMaxEventSubscribers,
		IdleTimeout:         DefaultIdleTimeout,
		AllowCommands:       true,
		History:             DefaultHistory,
	}
}

// decodeServer fills srv, which holds the defaults, from the server blocks;
// there may be none, and more than one is an error.
func (d *decoder) decodeServer(srv *Server, blocks []*hcl.Block) {
	if len(blocks) == 0 {
		return
	}
	for _, dup := range blocks[1:] {
		d.report(&hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Duplicate server block",
			Detail:   fmt.Sprintf("Only one server block is allowed, and one is already at line %d; merge the two.", blocks[0].DefRange.Start.Line),
			Subject:  dup.DefRange.Ptr(),
		})
	}

	content, diags := content(blocks[0].Body, serverSchema)
	d.report(diags...)

	listen := content.Attributes["listen"]
	if listen != nil {
		if s, ok := d.string(listen, "server.listen"); ok {
			srv.Listen = s
		}
	}
	if attr, ok := content.Attributes["token"]; ok {
		if s, ok := d.string(attr, "server.token"); ok {
			srv.Token = s
		}
	}
	if attr, ok := content.Attributes["token_file"]; ok {
		d.tokenFile(srv, attr, content.Attributes["token"])
	}
	if attr, ok := content.Attributes["allowed_workdirs"]; ok {
		d.allowedWorkdirs(srv, attr)
	}
	if attr, ok := content.Attributes["allowed_origins"]; ok {
		d.allowedOrigins(srv, attr)
	}
	if attr, ok := content.Attributes["hosts"]; ok {
		d.hosts(srv, attr)
	}
	limits := []struct {
		name string
		dst  *int
	}{
		{"max_agents", &srv.MaxAgents},
		{"max_watchers_per_agent", &srv.MaxWatchersPerAgent},
		{"max_event_subscribers", &srv.MaxEventSubscribers},
	}
	for _, l := range limits {
		if attr, ok := content.Attributes[l.name]; ok {
			if n, ok := d.wholeNumber(attr, "server."+l.name, 1, 100000); ok {
				*l.dst = n
			}
		}
	}
	if attr, ok := content.Attributes["idle_timeout"]; ok {
		if dur, ok := d.duration(attr, "server.idle_timeout", 100*time.Millisecond, "60s"); ok {
			srv.IdleTimeout = dur
		}
	}
	if attr, ok := content.Attributes["history"]; ok {
		if dur, ok := d.duration(attr, "server.history", time.Minute, "168h"); ok {
			srv.History = dur
		}
	}
	if attr, ok := content.Attributes["keep_agents"]; ok {
		if b, ok := d.bool(attr, "server.keep_agents"); ok {
			srv.KeepAgents = b
		}
	}
	if attr, ok := content.Attributes["allow_commands"]; ok {
		if b, ok := d.bool(attr, "server.allow_commands"); ok {
			srv.AllowCommands = b
		}
	}
	if attr, ok := content.Attributes["env_allowlist"]; ok {
		d.envAllowlist(srv, attr)
	}
	if attr, ok := content.Attributes["agent_listen"]; ok {
		if s, ok := d.string(attr, "server.agent_listen"); ok {
			// The gRPC Agent service has no authentication of its own, and
			// a task is a message to an agent that runs commands here.
			if host, err := splitListen(s); err != nil || !isLoopback(host) {
				d.report(&hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid agent_listen address",
					Detail:   fmt.Sprintf("server.agent_listen must be a loopback host:port, such as \"127.0.0.1:3001\": the Agent gRPC service has no authentication. %q is not one. Remote callers can use the HTTP form behind the token, /agent-protocol/<agent id>.", s),
					Subject:  attr.Expr.Range().Ptr(),
				})
			} else {
				srv.AgentListen = s
			}
		}
	}
	if attr, ok := content.Attributes["health_interval"]; ok {
		if dur, ok := d.duration(attr, "server.health_interval", 100*time.Millisecond, "15s"); ok {
			srv.HealthInterval = dur
		}
	}
	if attr, ok := content.Attributes["data_dir"]; ok {
		if p, ok := d.path(attr, "server.data_dir"); ok {
			srv.DataDir = p
		}
	}

	// The default address is fine, so only a given one needs checking.
	if listen == nil {
		return
	}
	host, err := splitListen(srv.Listen)
	if err != nil {
		d.report(&hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid listen address",
			Detail:   fmt.Sprintf("server.listen must be host:port, such as %q; %q is not: %v.", defaultListen, srv.Listen, err),
			Subject:  listen.Expr.Range().Ptr(),
		})
		return
	}
	// Agents run commands on this machine, so anyone who can reach the API
	// can run code here.
	if srv.Token == "" && !isLoopback(host) {
		d.report(&hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Unauthenticated listener on a public address",
			Detail:   fmt.Sprintf("server.listen is %q, which other machines can reach, and server.token is empty, so anyone could run commands here. Set server.token or listen on 127.0.0.1.", srv.Listen),
			Subject:  listen.Expr.Range().Ptr(),
		})
	}
}

// tokenFile reads the token from a file, so it needn't be in the config
// or the environment.
func (d *decoder) tokenFile(srv *Server, attr, token *hcl.Attribute) {
	if token != nil {
		d.report(&hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Both token and token_file",
			Detail:   "Set server.token or server.token_file, not both.",
			Subject:  attr.NameRange.Ptr(),
		})
		return
	}
	p, ok := d.path(attr, "server.token_file")
	if !ok {
		return
	}
	b, err := os.ReadFile(p)
	tok := strings.TrimSpace(string(b))
	if err == nil && tok == "" {
		err = fmt.Errorf("the file is empty")
	}
	if err != nil {
		d.report(&hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Unreadable token file",
			Detail:   fmt.Sprintf("server.token_file %q: %v. Write the token into it, such as with: openssl rand -hex 32 > %s", p, err, p),
			Subject:  attr.Expr.Range().Ptr(),
		})
		return
	}
	srv.Token = tok
}

// allowedWorkdirs reads the directories workdirs must be in; each must
// exist, so a typo can't silently refuse every spawn.
func (d *decoder) allowedWorkdirs(srv *Server, attr *hcl.Attribute) {
	list, ok := d.strings(attr, "server.allowed_workdirs")
	if !ok {
		return
	}
	for i, dir := range list {
		p, err := resolvePath(d.dir, dir)
		if err == nil {
			var fi os.FileInfo
			if fi, err = os.Stat(p); err == nil && !fi.IsDir() {
				err = fmt.Errorf("%s is not a directory", p)
			}
		}
		if err != nil {
			d.report(&hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid allowed workdir",
				Detail:   fmt.Sprintf("server.allowed_workdirs[%d] %q: %v. List existing directories.", i, dir, err),
				Subject:  attr.Expr.Range().Ptr(),
			})
			continue
		}
		srv.AllowedWorkdirs = append(srv.AllowedWorkdirs, p)
	}
}

// splitListen checks a listen address and returns its host. Named ports are
// refused: they depend on /etc/services and hide which port is used.
func splitListen(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", err
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return "", fmt.Errorf("port %q is not a number from 0 to 65535", port)
	}
	return host, nil
}

// isLoopback reports whether host is only reachable from this machine. An
// empty host listens on every interface.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// duration evaluates attr as a Go duration of at least min.
func (d *decoder) duration(attr *hcl.Attribute, field string, min time.Duration, example string) (time.Duration, bool) {
	v, ok := d.string(attr, field)
	if !ok {
		return 0, false
	}
	dur, err := time.ParseDuration(v)
	if err != nil || dur < min {
		d.report(&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid " + attr.Name,
			Detail:  fmt.Sprintf(`%s is %q; use a duration of at least %s, such as %q.`, field, v, min, example),
			Subject: attr.Expr.Range().Ptr()})
		return 0, false
	}
	return dur, true
}

// allowedOrigins reads the origins of other sites whose pages may call
// the API. They are whole origins, scheme and port included, because a
// browser's Origin header is one and an http page must not pass for an
// https one.
func (d *decoder) allowedOrigins(srv *Server, attr *hcl.Attribute) {
	list, ok := d.strings(attr, "server.allowed_origins")
	if !ok {
		return
	}
	for i, o := range list {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.User != nil {
			example := "https://" + strings.TrimPrefix(strings.TrimPrefix(o, "http://"), "https://")
			d.report(&hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid allowed origin",
				Detail:   fmt.Sprintf("server.allowed_origins[%d] %q is not an origin: write scheme://host[:port] with nothing after it, such as %q.", i, o, strings.TrimRight(example, "/")),
				Subject:  attr.Expr.Range().Ptr(),
			})
			continue
		}
		srv.AllowedOrigins = append(srv.AllowedOrigins, strings.ToLower(o))
	}
}

// hosts reads the extra names the API answers to.
func (d *decoder) hosts(srv *Server, attr *hcl.Attribute) {
	list, ok := d.strings(attr, "server.hosts")
	if !ok {
		return
	}
	for i, h := range list {
		_, err := path.Match(h, "")
		if err != nil || h == "" || strings.ContainsAny(h, "/: ") {
			d.report(&hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid host",
				Detail:   fmt.Sprintf("server.hosts[%d] %q is not a host name: write a name without scheme or port, such as \"parallax.example.com\" or \"*.example.com\".", i, h),
				Subject:  attr.Expr.Range().Ptr(),
			})
			continue
		}
		srv.Hosts = append(srv.Hosts, strings.ToLower(h))
	}
}

// envAllowlist reads the env names a spawn request may set.
func (d *decoder) envAllowlist(srv *Server, attr *hcl.Attribute) {
	list, ok := d.strings(attr, "server.env_allowlist")
	if !ok {
		return
	}
	for i, name := range list {
		if _, err := path.Match(name, ""); err != nil || name == "" {
			d.report(&hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid env_allowlist entry",
				Detail:   fmt.Sprintf("server.env_allowlist[%d] %q is not a name or pattern: write a variable name such as \"GIT_AUTHOR_NAME\", or a pattern such as \"GIT_*\".", i, name),
				Subject:  attr.Expr.Range().Ptr(),
			})
			continue
		}
		srv.EnvAllowlist = append(srv.EnvAllowlist, name)
	}
}
