package config

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	goruntime "runtime"

	"github.com/hashicorp/hcl/v2"
)

var runtimeSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "plugin"},
		{Name: "priority"},
		{Name: "enabled"},
	},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "config"},
		{Type: "warm_pool"},
	},
}

// runtimeName keeps names usable in URLs, labels and plugin file names.
var runtimeName = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)

const maxPriority = 1000

func (d *decoder) decodeRuntimes(blocks []*hcl.Block, pluginDir string) []Runtime {
	var runtimes []Runtime
	first := map[string]*hcl.Block{}
	for _, block := range blocks {
		name := block.Labels[0]
		if prev, ok := first[name]; ok {
			d.report(&hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Duplicate runtime",
				Detail:   fmt.Sprintf("runtime %q is already defined at line %d; remove one of them, or rename one.", name, prev.DefRange.Start.Line),
				Subject:  block.DefRange.Ptr(),
			})
			continue
		}
		first[name] = block
		runtimes = append(runtimes, d.decodeRuntime(block, pluginDir))
	}
	return runtimes
}

func (d *decoder) decodeRuntime(block *hcl.Block, pluginDir string) Runtime {
	rt := Runtime{
		Name:      block.Labels[0],
		Enabled:   true,
		DeclRange: block.DefRange,
		dir:       d.dir,
	}
	nameOK := runtimeName.MatchString(rt.Name)
	if !nameOK {
		d.report(&hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid runtime name",
			Detail:   fmt.Sprintf("runtime %q: a name must start with a lowercase letter and hold only lowercase letters, digits and dashes, such as \"local\" or \"my-docker\".", rt.Name),
			Subject:  block.LabelRanges[0].Ptr(),
		})
	}

	content, diags := content(block.Body, runtimeSchema)
	d.report(diags...)
	field := func(name string) string { return fmt.Sprintf("runtime %q %s", rt.Name, name) }

	rt.PluginPath = filepath.Join(pluginDir, "parallax-runtime-"+rt.Name)
	pluginSubject, pluginOK := block.DefRange, true
	if attr, ok := content.Attributes["plugin"]; ok {
		reported := len(d.diags)
		if p, ok := d.path(attr, field("plugin")); ok {
			rt.PluginPath, pluginSubject = p, attr.Expr.Range()
		}
		// After a bad plugin path, a missing default binary is just noise.
		pluginOK = len(d.diags) == reported
	}
	if attr, ok := content.Attributes["priority"]; ok {
		if n, ok := d.wholeNumber(attr, field("priority"), 0, maxPriority); ok {
			rt.Priority = &n
		}
	}
	if attr, ok := content.Attributes["enabled"]; ok {
		if b, ok := d.bool(attr, field("enabled")); ok {
			rt.Enabled = b
		}
	}
	var configs []*hcl.Block
	for _, b := range content.Blocks {
		if b.Type == "warm_pool" {
			rt.warmPools = append(rt.warmPools, b)
		} else {
			configs = append(configs, b)
		}
	}
	for i, cb := range configs {
		if i == 0 {
			rt.ConfigBody = cb.Body
			continue
		}
		d.report(&hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Duplicate config block",
			Detail:   fmt.Sprintf("runtime %q may have one config block, and one is already at line %d; merge the two.", rt.Name, configs[0].DefRange.Start.Line),
			Subject:  cb.DefRange.Ptr(),
		})
	}

	// A disabled runtime is not started, so its binary needn't be built.
	// After a bad name, the binary named for it can only be missing too.
	if rt.Enabled && pluginOK && nameOK {
		d.checkPlugin(rt, pluginSubject)
	}
	return rt
}

// checkPlugin reports a plugin binary that is missing or can't be run, here
// rather than when the host starts it, so that validate catches it.
func (d *decoder) checkPlugin(rt Runtime, subject hcl.Range) {
	var summary, detail string
	info, err := os.Stat(rt.PluginPath)
	switch {
	case os.IsNotExist(err):
		summary = "Runtime plugin not found"
		detail = fmt.Sprintf("runtime %q: there is no plugin binary at %s. Run `make build`, or set plugin = \"...\" in runtime %q.", rt.Name, rt.PluginPath, rt.Name)
	case err != nil:
		summary = "Runtime plugin not readable"
		detail = fmt.Sprintf("runtime %q: %v.", rt.Name, err)
	case info.IsDir():
		summary = "Runtime plugin is a directory"
		detail = fmt.Sprintf("runtime %q: %s is a directory; set plugin = \"...\" to the binary in it.", rt.Name, rt.PluginPath)
	case goruntime.GOOS != "windows" && info.Mode().Perm()&0o111 == 0:
		summary = "Runtime plugin not executable"
		detail = fmt.Sprintf("runtime %q: %s is not executable; run chmod +x %s, or run `make build` again.", rt.Name, rt.PluginPath, rt.PluginPath)
	default:
		return
	}
	d.report(&hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   detail,
		Subject:  &subject,
	})
}
