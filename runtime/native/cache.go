package native

import (
	"container/list"
	goruntime "runtime"
	"sync"
	"sync/atomic"

	onnximport "github.com/xt2onnx/xt2onnx/import"
)

// cacheSize is how many shape sets a session keeps compiled programs for.
const cacheSize = 16

// programCache holds the compiled programs of the most recently used input
// shape sets, least recently used first out.
type programCache struct {
	max int

	mu      sync.Mutex
	entries map[string]*list.Element // of *cacheEntry
	lru     *list.List               // front: most recently used
}

func newProgramCache(size int) *programCache {
	return &programCache{max: size, entries: map[string]*list.Element{}, lru: list.New()}
}

// cacheEntry is the programs of one shape set: the first compiled, and the
// clones of it that are not running.
type cacheEntry struct {
	key   string
	ready chan struct{} // closed once base and err are set
	base  *onnximport.Program
	err   error

	// dataDependent is set once a run found that input values decide
	// shapes: runs of these shapes are then evaluated eagerly.
	dataDependent atomic.Bool

	mu       sync.Mutex
	baseUsed bool
	free     []*onnximport.Program
}

// get returns the entry for key, compiling its program with compile if
// it has none. Concurrent calls for one key compile once; a failed compile
// is not cached.
func (c *programCache) get(key string, compile func() (*onnximport.Program, error)) (*cacheEntry, error) {
	c.mu.Lock()
	if el, ok := c.entries[key]; ok {
		c.lru.MoveToFront(el)
		c.mu.Unlock()
		e := el.Value.(*cacheEntry)
		<-e.ready
		if e.err != nil {
			return nil, e.err
		}
		return e, nil
	}
	e := &cacheEntry{key: key, ready: make(chan struct{})}
	c.entries[key] = c.lru.PushFront(e)
	for c.lru.Len() > c.max {
		last := c.lru.Back()
		c.lru.Remove(last)
		delete(c.entries, last.Value.(*cacheEntry).key)
	}
	c.mu.Unlock()

	e.base, e.err = compile()
	close(e.ready)
	if e.err != nil {
		c.mu.Lock()
		if el, ok := c.entries[key]; ok && el.Value == e {
			c.lru.Remove(el)
			delete(c.entries, key)
		}
		c.mu.Unlock()
		return nil, e.err
	}
	return e, nil
}

// len returns the number of cached shape sets.
func (c *programCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

// acquire returns a program of the entry for one run: an idle one, or a new
// clone when all are running.
func (e *cacheEntry) acquire() (*onnximport.Program, error) {
	e.mu.Lock()
	if !e.baseUsed {
		e.baseUsed = true
		e.mu.Unlock()
		return e.base, nil
	}
	if n := len(e.free); n > 0 {
		p := e.free[n-1]
		e.free = e.free[:n-1]
		e.mu.Unlock()
		return p, nil
	}
	e.mu.Unlock()
	return e.base.Clone()
}

// release hands a program back after its run. At most GOMAXPROCS idle
// clones are kept.
func (e *cacheEntry) release(p *onnximport.Program) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if p == e.base {
		e.baseUsed = false
		return
	}
	if len(e.free) < goruntime.GOMAXPROCS(0) {
		e.free = append(e.free, p)
	}
}
