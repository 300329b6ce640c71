package config

import (
	"fmt"
	"math/big"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// content is body.Content, but an unknown name with no close match gets the
// list of names allowed in its place, so the user needn't look them up.
func content(body hcl.Body, schema *hcl.BodySchema) (*hcl.BodyContent, hcl.Diagnostics) {
	c, diags := body.Content(schema)
	var attrs, blocks []string
	for _, a := range schema.Attributes {
		attrs = append(attrs, a.Name)
	}
	for _, b := range schema.Blocks {
		blocks = append(blocks, b.Type)
	}
	listKnownNames(diags, attrs, blocks)
	return c, diags
}

// listKnownNames appends the allowed names to hcl's "Unsupported ..."
// diagnostics that carry no "Did you mean" of their own.
func listKnownNames(diags hcl.Diagnostics, attrs, blocks []string) {
	for _, diag := range diags {
		if strings.Contains(diag.Detail, "Did you mean") {
			continue
		}
		switch diag.Summary {
		case "Unsupported argument":
			diag.Detail += allowed("arguments", attrs)
		case "Unsupported block type":
			diag.Detail += allowed("blocks", blocks)
		}
	}
}

func allowed(kind string, names []string) string {
	if len(names) == 0 {
		return fmt.Sprintf(" No %s are allowed here.", kind)
	}
	return fmt.Sprintf(" The %s allowed here are: %s.", kind, strings.Join(names, ", "))
}

// value evaluates attr and converts it to ty. It returns false when the
// attribute is to be ignored: on an error, which it reports, and for null,
// which means "use the default".
func (d *decoder) value(attr *hcl.Attribute, ty cty.Type, field string) (cty.Value, bool) {
	val, diags := attr.Expr.Value(d.ctx)
	d.report(diags...)
	if diags.HasErrors() || val.IsNull() {
		return cty.NilVal, false
	}
	val, err := convert.Convert(val, ty)
	if err != nil {
		d.report(&hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid value for " + attr.Name,
			Detail:   fmt.Sprintf("%s must be a %s: %s.", field, ty.FriendlyName(), err),
			Subject:  attr.Expr.Range().Ptr(),
		})
		return cty.NilVal, false
	}
	// Without variables nothing should be unknown; this keeps AsString and
	// friends from panicking should a function ever return an unknown.
	if !val.IsWhollyKnown() {
		d.report(&hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid value for " + attr.Name,
			Detail:   field + " must be known when the config is loaded.",
			Subject:  attr.Expr.Range().Ptr(),
		})
		return cty.NilVal, false
	}
	return val, true
}

func (d *decoder) string(attr *hcl.Attribute, field string) (string, bool) {
	val, ok := d.value(attr, cty.String, field)
	if !ok {
		return "", false
	}
	return val.AsString(), true
}

func (d *decoder) bool(attr *hcl.Attribute, field string) (bool, bool) {
	val, ok := d.value(attr, cty.Bool, field)
	if !ok {
		return false, false
	}
	return val.True(), true
}

// path evaluates a path attribute and resolves it against the config
// file's directory.
func (d *decoder) path(attr *hcl.Attribute, field string) (string, bool) {
	s, ok := d.string(attr, field)
	if !ok {
		return "", false
	}
	if s == "" {
		d.report(&hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Empty path for " + attr.Name,
			Detail:   fmt.Sprintf("%s must name a path; remove it to use the default.", field),
			Subject:  attr.Expr.Range().Ptr(),
		})
		return "", false
	}
	p, err := resolvePath(d.dir, s)
	if err != nil {
		d.report(&hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid path for " + attr.Name,
			Detail:   err.Error() + ".",
			Subject:  attr.Expr.Range().Ptr(),
		})
		return "", false
	}
	return p, true
}

// wholeNumber evaluates attr as an integer from lo to hi.
func (d *decoder) wholeNumber(attr *hcl.Attribute, field string, lo, hi int64) (int, bool) {
	val, ok := d.value(attr, cty.Number, field)
	if !ok {
		return 0, false
	}
	f := val.AsBigFloat()
	if !f.IsInt() || f.Cmp(new(big.Float).SetInt64(lo)) < 0 || f.Cmp(new(big.Float).SetInt64(hi)) > 0 {
		d.report(&hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid " + attr.Name,
			Detail:   fmt.Sprintf("%s must be a whole number from %d to %d; got %s.", field, lo, hi, f.Text('g', -1)),
			Subject:  attr.Expr.Range().Ptr(),
		})
		return 0, false
	}
	n, _ := f.Int64()
	return int(n), true
}

// maxExponent bounds number literals to about the range of a float64.
// Printing a number takes time quadratic in its digits, and hcl and cty
// print them in conversions and messages: 1e9999999 takes half a minute.
const maxExponent = 1100 // binary

// checkNumbers refuses number literals too large or too small to print.
func checkNumbers(body *hclsyntax.Body) hcl.Diagnostics {
	var diags hcl.Diagnostics
	hclsyntax.VisitAll(body, func(node hclsyntax.Node) hcl.Diagnostics {
		lit, ok := node.(*hclsyntax.LiteralValueExpr)
		if !ok || lit.Val.Type() != cty.Number || lit.Val.IsNull() || !lit.Val.IsKnown() {
			return nil
		}
		if exp := lit.Val.AsBigFloat().MantExp(nil); exp > maxExponent || exp < -maxExponent {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Number out of range",
				Detail:   "Numbers in the config must lie between 1e-300 and 1e300 in size.",
				Subject:  lit.SrcRange.Ptr(),
			})
		}
		return nil
	})
	return diags
}
