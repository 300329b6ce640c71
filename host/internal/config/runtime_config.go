package config

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/parallax/parallax/sdk/runtime"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// DecodeRuntimeConfig checks rt's config {} block against the schema its
// plugin declares and returns the block as a JSON object for Configure:
// "{}" when the block is absent. Unset optional attributes are left out.
//
// Mistakes in the block are reported at their place in the user's file; a
// schema the plugin got wrong is reported as the plugin's fault.
func DecodeRuntimeConfig(rt Runtime, schema []runtime.ConfigAttr) ([]byte, hcl.Diagnostics) {
	spec, diags := pluginSpec(rt, schema)
	if diags.HasErrors() {
		return nil, diags
	}

	if rt.ConfigBody == nil {
		var missing []string
		for _, a := range schema {
			if a.Required {
				missing = append(missing, a.Name)
			}
		}
		if len(missing) > 0 {
			return nil, hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Missing config block",
				Detail:   fmt.Sprintf("runtime %q needs a config block that sets %s; add config { %s = ... } to it.", rt.Name, quoteList(missing), missing[0]),
				Subject:  rt.DeclRange.Ptr(),
			}}
		}
		return []byte("{}"), nil
	}

	dir := rt.dir
	if dir == "" {
		dir, _ = filepath.Abs(filepath.Dir(rt.DeclRange.Filename))
	}
	val, diags := hcldec.Decode(rt.ConfigBody, spec, evalContext(dir))
	names := make([]string, len(schema))
	for i, a := range schema {
		names[i] = a.Name
	}
	listKnownNames(diags, names, nil)
	if diags.HasErrors() {
		return nil, diags
	}

	// Marshal the object by its value's own type: with the schema's type,
	// an "any" attribute would be wrapped in cty's {"value", "type"} form.
	set := map[string]cty.Value{}
	for name, v := range val.AsValueMap() {
		if !v.IsNull() {
			set[name] = v
		}
	}
	obj := cty.ObjectVal(set)
	js, err := ctyjson.Marshal(obj, obj.Type())
	if err != nil {
		return nil, append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Cannot encode config block",
			Detail:   fmt.Sprintf("runtime %q config: %v.", rt.Name, err),
			Subject:  rt.ConfigBody.MissingItemRange().Ptr(),
		})
	}
	return js, diags
}

// pluginSpec turns the plugin's schema into an hcldec spec.
func pluginSpec(rt Runtime, schema []runtime.ConfigAttr) (hcldec.ObjectSpec, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	blame := func(format string, args ...any) {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid config schema in runtime plugin",
			Detail: fmt.Sprintf("The plugin %s of runtime %q declares a broken config schema: %s. This is a bug in the plugin, not in your config; report it to the plugin's author.",
				rt.PluginPath, rt.Name, fmt.Sprintf(format, args...)),
			Subject: rt.DeclRange.Ptr(),
		})
	}

	spec := hcldec.ObjectSpec{}
	for _, a := range schema {
		if !hclsyntax.ValidIdentifier(a.Name) {
			blame("attribute name %q is not an HCL identifier", a.Name)
			continue
		}
		if _, dup := spec[a.Name]; dup {
			blame("attribute %q is declared twice", a.Name)
			continue
		}
		ty, err := parseType(a.Type)
		if err != nil {
			blame("attribute %q has type %q, which is not an HCL type expression (%s)", a.Name, a.Type, err)
			continue
		}
		spec[a.Name] = &hcldec.AttrSpec{Name: a.Name, Type: ty, Required: a.Required}
	}
	return spec, diags
}

func parseType(s string) (cty.Type, error) {
	expr, diags := hclsyntax.ParseExpression([]byte(s), "type", hcl.InitialPos)
	if diags.HasErrors() {
		return cty.NilType, errors.New(diags.Errs()[0].(*hcl.Diagnostic).Detail)
	}
	ty, diags := typeexpr.TypeConstraint(expr)
	if diags.HasErrors() {
		return cty.NilType, errors.New(diags.Errs()[0].(*hcl.Diagnostic).Detail)
	}
	return ty, nil
}

func quoteList(names []string) string {
	s := ""
	for i, n := range names {
		switch {
		case i == 0:
		case i == len(names)-1:
			s += " and "
		default:
			s += ", "
		}
		s += fmt.Sprintf("%q", n)
	}
	return s
}
