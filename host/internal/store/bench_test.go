package store

import (
	"bytes"
	"fmt"
	"testing"
	"time"
)

// Each benchmark flushes before it returns from the timed region, so that
// ns/op includes the commits (and fsyncs) the writes cost. caller-ns/op is
// what the caller pays: the time in the loop, before the Flush.

func BenchmarkAppendEvent(b *testing.B) {
	s := mustOpen(b, dbPath(b), Options{})
	raw := fmt.Appendf(nil, `{"seq":0,"event":"message","agentId":"a-0123456789","time":"%s","data":{"text":"`,
		time.Now().UTC().Format(time.RFC3339))
	raw = append(raw, bytes.Repeat([]byte("x"), 300-len(raw)-3)...)
	raw = append(raw, `"}}`...)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		s.AppendEvent(uint64(i+1), time.Now(), raw)
	}
	caller := time.Since(start)
	if err := s.Flush(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(caller.Nanoseconds())/float64(b.N), "caller-ns/op")
}

func BenchmarkAppendTranscript(b *testing.B) {
	s := mustOpen(b, dbPath(b), Options{})
	text := string(bytes.Repeat([]byte("a reply of some length. "), 10))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		s.AppendTranscript(fmt.Sprint("agent-", i%8), Entry{Kind: KindReply, Text: text})
	}
	caller := time.Since(start)
	if err := s.Flush(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(caller.Nanoseconds())/float64(b.N), "caller-ns/op")
}

// One agent writing flat out loses most of its output to the cap before a
// commit; sixteen keep more of theirs, so the disk writes more.
func BenchmarkAppendOutput(b *testing.B) {
	for _, agents := range []int{1, 16} {
		b.Run(fmt.Sprint("agents=", agents), func(b *testing.B) {
			s := mustOpen(b, dbPath(b), Options{})
			p := bytes.Repeat([]byte("terminal output\r\n"), 4096/17+1)[:4096]
			ids := make([]string, agents)
			for i := range ids {
				ids[i] = fmt.Sprint("agent-", i)
			}
			b.SetBytes(int64(len(p)))
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for i := range b.N {
				s.AppendOutput(ids[i%agents], p)
			}
			caller := time.Since(start)
			if err := s.Flush(); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(caller.Nanoseconds())/float64(b.N), "caller-ns/op")
		})
	}
}
