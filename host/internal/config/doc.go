// Package config loads the host's HCL file and checks everything in it that
// can be checked without starting a plugin.
package config
