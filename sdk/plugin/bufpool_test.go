package plugin

import "testing"

func TestDirtyPool(t *testing.T) {
	var p dirtyPool
	for _, size := range []int{0, 1, 255, 256, 257, 4096, 32 << 10, 33 << 10, 4 << 20, 4<<20 + 1} {
		b := p.Get(size)
		if len(*b) != size {
			t.Fatalf("Get(%d) has length %d", size, len(*b))
		}
		if c := cap(*b); size > 0 && size <= 4<<20 && (c < size || c&(c-1) != 0) {
			t.Fatalf("Get(%d) has capacity %d, want the power of two that holds it", size, c)
		}
		p.Put(b)
		if again := p.Get(size); len(*again) != size {
			t.Fatalf("Get(%d) after Put has length %d", size, len(*again))
		}
	}
	// A buffer of a capacity no tier has is dropped, not handed out short.
	odd := make([]byte, 300)
	p.Put(&odd)
	if b := p.Get(512); cap(*b) != 512 {
		t.Fatalf("Get(512) after Put of a 300-byte buffer has capacity %d", cap(*b))
	}
}
