package config

import (
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/parallax/parallax/host/internal/adapter"
)

// WarmPool is one entry of a warm_pool block: keep Size agents of Type
// spawned and ready. The top-level block's entries have no Runtime: their
// agents go where runtime selection puts them. A warm_pool block inside
// runtime "<name>" {} pins its agents to that runtime. A per-runtime pool is
// a block in the runtime's own block rather than warm_pool "<name>" {}
// because HCL fixes how many labels a block type has, and there a pool for
// a runtime that isn't configured can't be written at all.
type WarmPool struct {
	Type      string
	Runtime   string // "" means any runtime
	Size      int
	DeclRange hcl.Range // the entry's attribute
}

// maxPoolSize keeps a typo from starting hundreds of agents.
const maxPoolSize = 100

// decodeWarmPools decodes the top-level warm_pool block (blocks) and the
// warm_pool blocks of the runtimes, in file order.
func (d *decoder) decodeWarmPools(blocks []*hcl.Block, runtimes []Runtime) []WarmPool {
	out := d.decodeWarmPoolBlocks(blocks, "", "warm_pool")
	for _, rt := range runtimes {
		if len(rt.warmPools) == 0 {
			continue
		}
		where := fmt.Sprintf("runtime %q warm_pool", rt.Name)
		if !rt.Enabled {
			d.report(&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Warm pool on a disabled runtime",
				Detail:  fmt.Sprintf("%s can't start agents while runtime %q has enabled = false; enable the runtime or remove the pool.", where, rt.Name),
				Subject: rt.warmPools[0].DefRange.Ptr()})
			continue
		}
		out = append(out, d.decodeWarmPoolBlocks(rt.warmPools, rt.Name, where)...)
	}
	return out
}

// decodeWarmPoolBlocks decodes the warm_pool blocks of one place: the top
// level (runtime "") or one runtime's block. where names that place.
func (d *decoder) decodeWarmPoolBlocks(blocks []*hcl.Block, runtime, where string) []WarmPool {
	var out []WarmPool
	for i, block := range blocks {
		if i > 0 {
			d.report(&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate warm_pool block",
				Detail:  fmt.Sprintf("%s is already at line %d; merge the two.", where, blocks[0].DefRange.Start.Line),
				Subject: block.DefRange.Ptr()})
			continue
		}
		attrs, diags := block.Body.JustAttributes()
		d.report(diags...)
		// The map's order is random; diagnostics and pools keep the file's.
		sorted := make([]*hcl.Attribute, 0, len(attrs))
		for _, attr := range attrs {
			sorted = append(sorted, attr)
		}
		slices.SortFunc(sorted, func(a, b *hcl.Attribute) int { return a.NameRange.Start.Byte - b.NameRange.Start.Byte })
		for _, attr := range sorted {
			if p, ok := d.warmPoolEntry(attr, runtime, where); ok {
				out = append(out, p)
			}
		}
	}
	return out
}

func (d *decoder) warmPoolEntry(attr *hcl.Attribute, runtime, where string) (WarmPool, bool) {
	field := where + " " + attr.Name
	switch {
	case attr.Name == adapter.CustomType:
		d.report(&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Custom agents can't be pooled",
			Detail:  field + ": a custom agent needs a command in each request, so a pooled one could never be taken; remove it.",
			Subject: attr.NameRange.Ptr()})
		return WarmPool{}, false
	case !adapter.Poolable(attr.Name):
		d.report(&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unknown agent type",
			Detail:  fmt.Sprintf("%s: %q is not an agent type; use one of %s.", where, attr.Name, strings.Join(adapter.PoolableTypes(), ", ")),
			Subject: attr.NameRange.Ptr()})
		return WarmPool{}, false
	}
	n, ok := d.wholeNumber(attr, field, 0, maxPoolSize)
	if !ok || n == 0 {
		return WarmPool{}, false
	}
	return WarmPool{Type: attr.Name, Runtime: runtime, Size: n, DeclRange: attr.Range}, true
}
