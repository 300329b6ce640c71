// Package agent is the module for agents that run outside parallax and
// announce themselves: registry (etcd registration, in the one format the
// host reads) and protocol (the Agent protocol, gRPC and HTTP). It is a
// module of its own so that runtime plugins, which import only sdk, never
// pull in etcd.
package agent
