package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// evalContext offers env() and file() so that secrets such as the token
// need not be written into the config file. There are no variables.
func evalContext(dir string) *hcl.EvalContext {
	return &hcl.EvalContext{
		Functions: map[string]function.Function{
			"env":  envFunc,
			"file": fileFunc(dir),
		},
	}
}

// envFunc returns "" for an unset variable, as an unset token is
// legitimate on a loopback address.
var envFunc = function.New(&function.Spec{
	Description: "Returns the value of an environment variable, or an empty string if it is unset.",
	Params:      []function.Parameter{{Name: "name", Type: cty.String}},
	Type:        function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		return cty.StringVal(os.Getenv(args[0].AsString())), nil
	},
})

// fileFunc trims trailing newlines because editors add one and a token with
// a newline in it would never match.
func fileFunc(dir string) function.Function {
	return function.New(&function.Spec{
		Description: "Returns the contents of a file, without trailing newlines. A relative path is relative to the config file's directory.",
		Params:      []function.Parameter{{Name: "path", Type: cty.String}},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			path, err := resolvePath(dir, args[0].AsString())
			if err != nil {
				return cty.NilVal, err
			}
			// A device or FIFO could block the load forever.
			info, err := os.Stat(path)
			if err != nil {
				return cty.NilVal, err
			}
			if !info.Mode().IsRegular() {
				return cty.NilVal, fmt.Errorf("%s is not a regular file", path)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return cty.NilVal, err
			}
			if !utf8.Valid(b) {
				return cty.NilVal, fmt.Errorf("%s is not UTF-8 text", path)
			}
			return cty.StringVal(strings.TrimRight(string(b), "\r\n")), nil
		},
	})
}

// resolvePath expands a leading ~ to the home directory and makes p
// absolute against dir, the config file's directory. ~user is not expanded.
func resolvePath(dir, p string) (string, error) {
	if p == "~" || strings.HasPrefix(p, "~/") || strings.HasPrefix(p, "~"+string(filepath.Separator)) {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("cannot expand ~ in %q: %w", p, err)
		}
		p = filepath.Join(home, p[1:])
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(dir, p)
	}
	return filepath.Clean(p), nil
}
