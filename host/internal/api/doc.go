// Package api serves the REST API over the managed agents and runtimes.
package api
