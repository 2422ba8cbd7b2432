package local

import (
	"sync"
	"time"
)

// Clock is the local stack's movable clock: every function reads it, so
// dormancy can be watched in minutes. Only the local stack has one.
type Clock struct {
	mu     sync.Mutex
	offset time.Duration
}

// Now is real time moved by the offset.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset).UTC()
}

// Advance moves the clock forward (or back, with a negative d).
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	c.offset = time.Until(t)
	c.mu.Unlock()
}
