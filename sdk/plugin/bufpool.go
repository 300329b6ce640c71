package plugin

import (
	"math/bits"
	"sync"

	"google.golang.org/grpc/mem"
)

// dirtyPool is a gRPC buffer pool that does not zero the buffers it hands
// out. gRPC's default pool clears the whole buffer on every Get, but each
// buffer it gives us is written over in full before it is read; at full
// terminal output that clearing was an eighth of the host's CPU.
type dirtyPool struct {
	// tiers[k] holds buffers of capacity 1<<(k+minShift).
	tiers [maxShift - minShift + 1]sync.Pool
}

const (
	minShift = 8  // 256 B
	maxShift = 22 // 4 MiB; bigger buffers are not pooled
)

var _ mem.BufferPool = (*dirtyPool)(nil)

// tier returns the index of the smallest tier that holds size bytes, or
// -1 if none does.
func tier(size int) int {
	if size <= 1<<minShift {
		return 0
	}
	shift := bits.Len(uint(size - 1))
	if shift > maxShift {
		return -1
	}
	return shift - minShift
}

func (p *dirtyPool) Get(size int) *[]byte {
	k := tier(size)
	if k < 0 {
		b := make([]byte, size)
		return &b
	}
	if b, ok := p.tiers[k].Get().(*[]byte); ok {
		*b = (*b)[:size]
		return b
	}
	b := make([]byte, size, 1<<(k+minShift))
	return &b
}

func (p *dirtyPool) Put(b *[]byte) {
	c := cap(*b)
	if k := tier(c); k >= 0 && c == 1<<(k+minShift) {
		p.tiers[k].Put(b)
	}
}
