package plugin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
	"github.com/hashicorp/go-plugin/runner"
	"google.golang.org/grpc/health/grpc_health_v1"

	"github.com/parallax/parallax/sdk/runtime"
)

// ReattachConfig is what a host needs to connect again to a plugin that
// is already running, such as one an earlier host process launched
// WithOutliveHost. It is plain data, to keep as JSON between host
// processes.
type ReattachConfig struct {
	PID int `json:"pid"`
	// Network and Address are where the plugin serves: "unix" and a
	// socket path.
	Network         string `json:"network"`
	Address         string `json:"address"`
	ProtocolVersion int    `json:"protocol_version"`
}

// reattachTimeout bounds Reattach by default: a plugin that is alive
// answers at once, and a host starting up must not hang on one that isn't.
const reattachTimeout = 3 * time.Second

// Reattach connects to the running plugin rc describes. It fails, within
// WithStartTimeout (3 seconds by default) or ctx, with an error naming the
// pid when the process is gone, the plugin doesn't answer at the address,
// or it speaks another protocol version. A failed Reattach leaves the
// process alone: the pid may since belong to someone else.
//
// Kill, Exited and PID work on the Client as on a launched one; Exited
// notices the end of a process that is not our child within a second.
// The plugin's log is not forwarded: it is in the log file it was launched
// with. Of opts, only WithStartTimeout applies.
func Reattach(ctx context.Context, rc ReattachConfig, logger hclog.Logger, opts ...LaunchOption) (*Client, error) {
	cfg := launchConfig{startTimeout: reattachTimeout}
	for _, opt := range opts {
		opt(&cfg)
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.startTimeout)
	defer cancel()
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("reattach to runtime plugin (pid %d at %s %s): %s", rc.PID, rc.Network, rc.Address, fmt.Sprintf(format, args...))
	}

	addr, err := rc.addr()
	if err != nil {
		return nil, fail("%v", err)
	}
	if rc.ProtocolVersion != runtime.ProtocolVersion {
		return nil, fail("it speaks protocol version %d, this host %d", rc.ProtocolVersion, runtime.ProtocolVersion)
	}
	// go-plugin only dials the address; a pid that is gone says more.
	if ended(rc.PID) {
		return nil, fail("the process is gone")
	}

	run := &attached{pid: rc.PID, stop: make(chan struct{})}
	proc := goplugin.NewClient(&goplugin.ClientConfig{
		HandshakeConfig: Handshake,
		Plugins:         pluginSet(nil, nil, nil),
		Reattach: &goplugin.ReattachConfig{
			Protocol:        goplugin.ProtocolGRPC,
			ProtocolVersion: rc.ProtocolVersion,
			Addr:            addr,
			Pid:             rc.PID,
			ReattachFunc:    run.reattach,
		},
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		Managed:          false,
		Logger:           logger,
		GRPCDialOptions:  dialOptions(),
	})
	p := pluginProcess{proc}
	client, err := connect(ctx, proc)
	if err == nil {
		// gRPC connects lazily: ask go-plugin's health service, which
		// answers without the runtime, whether anyone serves there.
		err = ping(ctx, proc)
	}
	if err != nil {
		close(run.stop)
		go p.detach() // not kill: see above
		return nil, fail("it does not answer: %v", err)
	}
	client.proc = p
	return client, nil
}

func (rc ReattachConfig) addr() (net.Addr, error) {
	switch {
	case rc.PID <= 0:
		return nil, errors.New("no pid")
	case rc.Address == "":
		return nil, errors.New("no address")
	case rc.Network == "unix":
		return &net.UnixAddr{Net: "unix", Name: rc.Address}, nil
	case rc.Network == "tcp":
		return net.ResolveTCPAddr("tcp", rc.Address)
	}
	return nil, fmt.Errorf("unknown network %q", rc.Network)
}

func ping(ctx context.Context, proc *goplugin.Client) error {
	rpc, err := proc.Client()
	if err != nil {
		return err
	}
	g, ok := rpc.(*goplugin.GRPCClient)
	if !ok {
		return errors.New("not a gRPC plugin")
	}
	_, err = grpc_health_v1.NewHealthClient(g.Conn).Check(ctx, &grpc_health_v1.HealthCheckRequest{Service: goplugin.GRPCServiceName})
	return err
}

// attached is go-plugin's runner of a plugin process this host did not
// start. go-plugin's own waits until kill(pid, 0) fails, which a zombie
// never does: where nothing reaps orphans (a container whose init
// doesn't), Exited would never be true, and Kill, which waits for the
// runner, would never return.
type attached struct {
	pid  int
	proc *os.Process
	stop chan struct{} // closed when Reattach gives up on the process
}

func (a *attached) reattach() (runner.AttachedRunner, error) {
	p, err := os.FindProcess(a.pid) // a pidfd on Linux: Kill can't hit a reused pid
	if err != nil {
		return nil, err
	}
	a.proc = p
	return a, nil
}

// attachedPoll is how often Wait looks whether the process ended.
const attachedPoll = 500 * time.Millisecond

func (a *attached) Wait(ctx context.Context) error {
	t := time.NewTicker(attachedPoll)
	defer t.Stop()
	for !ended(a.pid) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-a.stop:
			return nil
		case <-t.C:
		}
	}
	return nil
}

func (a *attached) Kill(context.Context) error { return a.proc.Kill() }
func (a *attached) ID() string                 { return strconv.Itoa(a.pid) }

// The plugin's addresses are ours: it runs on this machine.
func (a *attached) PluginToHost(network, addr string) (string, string, error) {
	return network, addr, nil
}

func (a *attached) HostToPlugin(network, addr string) (string, string, error) {
	return network, addr, nil
}

// ended reports whether process pid is gone or a zombie. Where there is
// no /proc it can't see zombies.
func ended(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name, which is in parentheses and may
	// hold anything, ")" included.
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && bytes.HasPrefix(b[i+1:], []byte(" Z"))
}
