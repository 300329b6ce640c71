package api

import (
	"fmt"
	"mime"
	"net"
	"net/http"
	"path"
	"strings"
)

// A browser is a caller too, and it calls for whichever page it shows. A
// page of another site must never drive the host, with or without a
// token: guard refuses it before any route runs. Clients that are not
// browsers (curl, the CLI, SDKs) send no Origin nor Sec-Fetch-* headers
// and pass as before.
type guard struct {
	hosts   []string // extra names allowed in Host, path.Match patterns
	origins map[string]bool
	cop     *http.CrossOriginProtection
}

// newGuard trusts origins, which the config has checked are origins.
func newGuard(hosts, origins []string) *guard {
	g := &guard{hosts: hosts, origins: map[string]bool{}, cop: http.NewCrossOriginProtection()}
	for _, o := range origins {
		if g.cop.AddTrustedOrigin(o) == nil {
			g.origins[strings.ToLower(o)] = true
		}
	}
	return g
}

// wrap puts the checks in front of next: the Host first, so a rebinding
// page learns nothing, then the cross-origin check, then the body's type.
func (g *guard) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !g.hostAllowed(r.Host) {
			writeError(w, http.StatusForbidden, "", fmt.Sprintf("Host %q is not a name of this host: requests must name it by IP address, "+
				"localhost or a name in server { hosts = [...] }; add the name there if you reach the host by it", r.Host))
			return
		}
		if err := g.cop.Check(r); err != nil {
			writeError(w, http.StatusForbidden, "", fmt.Sprintf("%v: a page of another site may not call this API; "+
				"list its origin in server { allowed_origins = [\"https://…\"] } if it should", err))
			return
		}
		if fromBrowser(r) && hasBody(r) && !isJSON(r.Header.Get("Content-Type")) {
			// A "simple" request, which needs no CORS pre-flight, can't
			// carry this type; so a page can only send it through fetch,
			// which the cross-origin check has already held to this site.
			writeError(w, http.StatusUnsupportedMediaType, "", "send the body as Content-Type: application/json")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// hostAllowed says whether a request's Host names this host. DNS
// rebinding points a name the attacker owns at this host, and the browser
// then sends that name as Host; an IP address can't be rebound, and
// localhost never leaves the machine.
func (g *guard) hostAllowed(hostport string) bool {
	name := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		name = h
	}
	name = strings.ToLower(strings.TrimSuffix(strings.Trim(name, "[]"), "."))
	if name == "" {
		return false
	}
	if net.ParseIP(name) != nil || name == "localhost" {
		return true
	}
	for _, pat := range g.hosts {
		if ok, _ := path.Match(pat, name); ok {
			return true
		}
	}
	return false
}

// originAllowed is the WebSockets' own Origin check. The cross-origin
// check lets every GET through, and a WebSocket handshake is one. A
// browser always sends Origin on it: the page's scheme, host and port
// must all be the host's own or a trusted origin's.
func (g *guard) originAllowed(r *http.Request) bool {
	origin := strings.ToLower(r.Header.Get("Origin"))
	if origin == "" {
		return !fromBrowser(r)
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return origin == scheme+"://"+strings.ToLower(r.Host) || g.origins[origin]
}

// fromBrowser says whether a browser sent r: browsers mark every request
// with Sec-Fetch-Site or, older ones, Origin on all but plain GETs.
func fromBrowser(r *http.Request) bool {
	return r.Header.Get("Sec-Fetch-Site") != "" || r.Header.Get("Origin") != ""
}

func hasBody(r *http.Request) bool {
	return r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody
}

func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == "application/json"
}
