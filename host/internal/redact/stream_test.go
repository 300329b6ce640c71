package redact

import (
	"strings"
	"testing"
)

func TestStreamMasksASecretSplitAcrossWrites(t *testing.T) {
	const key = "sk-ant-0123456789"
	tests := []struct {
		name   string
		pieces []string
	}{
		{"whole", []string{"key=" + key + "\r\n"}},
		{"split in two", []string{"key=sk-ant-01", "23456789\r\n"}},
		{"a byte at a time", strings.Split("key="+key+"\r\n", "")},
		{"ends on a partial", []string{"key=" + key + " and sk-ant"}},
		{"twice, split", []string{"a " + key[:5], key[5:] + " b " + key[:9], key[9:]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewStream([]string{key})
			var out strings.Builder
			for _, p := range tt.pieces {
				out.Write(s.Mask([]byte(p)))
			}
			out.Write(s.Flush())
			got := out.String()
			want := strings.ReplaceAll(strings.Join(tt.pieces, ""), key, Mask)
			if got != want {
				t.Fatalf("got %q, want %q", got, want)
			}
			if strings.Contains(got, key) {
				t.Fatalf("key leaked: %q", got)
			}
		})
	}
}

func TestStreamWithoutSecretsPassesThrough(t *testing.T) {
	s := NewStream(nil)
	if got := string(s.Mask([]byte("sk-ant"))); got != "sk-ant" {
		t.Fatalf("got %q", got)
	}
}

func FuzzStream(f *testing.F) {
	f.Add("hello sk-secret-1 world", 3)
	f.Fuzz(func(t *testing.T, text string, cut int) {
		const key = "sk-secret-1"
		s := NewStream([]string{key})
		var out strings.Builder
		if cut < 0 {
			cut = -cut
		}
		for i := 0; i < len(text); {
			n := min(len(text)-i, cut%7+1)
			out.Write(s.Mask([]byte(text[i : i+n])))
			i += n
		}
		out.Write(s.Flush())
		if want := strings.ReplaceAll(text, key, Mask); out.String() != want {
			t.Fatalf("got %q, want %q", out.String(), want)
		}
	})
}
