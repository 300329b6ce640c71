package agentserver

import "testing"

func TestStatedConfidence(t *testing.T) {
	tests := []struct {
		reply  string
		want   float64
		stated bool
	}{
		{"Looks fine.\nConfidence: 0.8", 0.8, true},
		{"**Confidence:** 85%", 0.85, true},
		{"- confidence = 0.3\nlater\nConfidence: 0.9", 0.9, true},
		{"Confidence: 70", 0.7, true},
		{"I am confident this works.", DefaultConfidence, false},
		{"Confidence: 250", DefaultConfidence, false},
		{"", DefaultConfidence, false},
	}
	for _, tt := range tests {
		got, stated := StatedConfidence(tt.reply)
		if got != tt.want || stated != tt.stated {
			t.Errorf("StatedConfidence(%q) = %v, %v; want %v, %v", tt.reply, got, stated, tt.want, tt.stated)
		}
	}
}
