// Command agent-http is a tiny agent that answers the Agent protocol over
// HTTP and announces itself in etcd, for parallax to find by capability.
//
//	agent-http -etcd 127.0.0.1:2379 -id reviewer-1 -capabilities code_review
//
// It reviews nothing: it answers each task by shouting it back, with a
// confidence of 0.9. Copy it and put your agent in Execute.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/parallax/parallax/sdk/agent/protocol"
	"github.com/parallax/parallax/sdk/agent/registry"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to answer on")
	etcd := flag.String("etcd", "127.0.0.1:2379", "etcd endpoints, comma-separated")
	prefix := flag.String("prefix", registry.DefaultPrefix, "registry key prefix")
	id := flag.String("id", "agent-http", "the agent's id")
	capabilities := flag.String("capabilities", "echo", "capabilities, comma-separated")
	ttl := flag.Duration("ttl", 10*time.Second, "registration lease; a crashed agent drops out after it")
	flag.Parse()

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: protocol.HTTPHandler(shouter{}), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			log.Fatal(err)
		}
	}()

	cli, err := clientv3.New(clientv3.Config{Endpoints: strings.Split(*etcd, ","), DialTimeout: 5 * time.Second})
	if err != nil {
		log.Fatal(err)
	}
	defer cli.Close()
	entry := registry.Entry{
		ID: *id, Endpoint: "http://" + ln.Addr().String(), Capabilities: strings.Split(*capabilities, ","),
		Metadata: map[string]string{registry.MetaType: "example", registry.MetaExpertise: "0.9"},
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
	_ = srv.Shutdown(closeCtx)
	fmt.Fprintln(os.Stderr, "deregistered")
}

// shouter is the agent: it answers a task with the task, in capitals.
type shouter struct{}

func (shouter) Execute(ctx context.Context, t protocol.Task, out io.Writer) (protocol.Result, error) {
	answer := strings.ToUpper(strings.TrimSpace(t.Description + " " + string(t.Data)))
	for _, word := range strings.Fields(answer) {
		if _, err := io.WriteString(out, word+" "); err != nil {
			return protocol.Result{}, err
		}
	}
	return protocol.Result{Result: []byte(answer), Confidence: 0.9, Reasoning: "shouted it back"}, nil
}

func (shouter) Health(context.Context) protocol.Health {
	return protocol.Health{Healthy: true, Message: "ready"}
}
