package config

import (
	"fmt"
	"net"
	"strconv"

	"github.com/hashicorp/hcl/v2"
)

var serverSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "listen"},
		{Name: "token"},
		{Name: "data_dir"},
	},
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
