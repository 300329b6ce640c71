// Command agent-grpc is a tiny agent that answers the Agent protocol over
// gRPC and announces itself in etcd, for parallax to find by capability.
//
//	agent-grpc -etcd 127.0.0.1:2379 -id counter-1 -capabilities counting
//
// It counts the words of each task, streaming them as it goes, one every
// -pace; a task whose timeout is shorter than that is cut off. Copy it and
// put your agent in Execute.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"

	"github.com/parallax/parallax/sdk/agent/protocol"
	"github.com/parallax/parallax/sdk/agent/registry"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to answer on")
	etcd := flag.String("etcd", "127.0.0.1:2379", "etcd endpoints, comma-separated")
	prefix := flag.String("prefix", registry.DefaultPrefix, "registry key prefix")
	id := flag.String("id", "agent-grpc", "the agent's id")
	capabilities := flag.String("capabilities", "counting", "capabilities, comma-separated")
	ttl := flag.Duration("ttl", 10*time.Second, "registration lease; a crashed agent drops out after it")
	pace := flag.Duration("pace", 20*time.Millisecond, "time spent on each word")
	flag.Parse()

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	g := grpc.NewServer()
	protocol.RegisterGRPC(g, counter{pace: *pace})
	go func() {
		if err := g.Serve(ln); err != nil {
			log.Fatal(err)
		}
	}()

	cli, err := clientv3.New(clientv3.Config{Endpoints: strings.Split(*etcd, ","), DialTimeout: 5 * time.Second})
	if err != nil {
		log.Fatal(err)
	}
	defer cli.Close()
	entry := registry.Entry{
		ID: *id, Endpoint: "grpc://" + ln.Addr().String(), Capabilities: strings.Split(*capabilities, ","),
		Metadata: map[string]string{registry.MetaType: "example", registry.MetaExpertise: "1"},
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	reg, err := registry.Register(ctx, cli, *prefix, entry, *ttl)
	if err != nil {
		log.Fatal(err)
	}
	// The line tests and scripts wait for.
	fmt.Printf("agent %s answering on %s\n", entry.ID, entry.Endpoint)

	<-ctx.Done()
	// Deregister first, so nobody picks an agent that is going away.
	closeCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := reg.Close(closeCtx); err != nil {
		log.Print(err)
	}
	g.GracefulStop()
	fmt.Fprintln(os.Stderr, "deregistered")
}

// counter is the agent: it counts a task's words, one per pace.
type counter struct{ pace time.Duration }

func (c counter) Execute(ctx context.Context, t protocol.Task, out io.Writer) (protocol.Result, error) {
	words := strings.Fields(t.Description + " " + string(t.Data))
	for i, w := range words {
		select {
		case <-time.After(c.pace):
		case <-ctx.Done():
			return protocol.Result{}, ctx.Err()
		}
		if _, err := fmt.Fprintf(out, "%d:%s\n", i+1, w); err != nil {
			return protocol.Result{}, err
		}
	}
	return protocol.Result{Result: []byte(strconv.Itoa(len(words))), Confidence: 1, Reasoning: "counted every word"}, nil
}

func (counter) Health(context.Context) protocol.Health {
	return protocol.Health{Healthy: true, Message: "ready"}
}
