package auth

import (
	"log/slog"
	"testing"
	"time"
)

func TestCache(t *testing.T) {
	clock := time.Date(2026, 10, 14, 15, 30, 0, 0, time.UTC)
	newCache := func() (*Cache, *Table[string, int]) {
		c := NewCache(time.Second, slog.New(slog.DiscardHandler))
		c.now = func() time.Time { return clock }
		return c, NewTable[string, int](c)
	}
	t.Run("keeps nothing until listening", func(t *testing.T) {
		c, tb := newCache()
		tb.Put(tb.Ticket(), "k", 1, 7)
		if _, ok := tb.Get("k"); ok {
			t.Error("an answer kept before the cache listened")
		}
		c.Live(true)
		tb.Put(tb.Ticket(), "k", 1, 7)
		if v, ok := tb.Get("k"); !ok || v != 7 {
			t.Errorf("Get = %d, %v; want 7, true", v, ok)
		}
		c.Live(false)
		if _, ok := tb.Get("k"); ok {
			t.Error("an answer given while not listening")
		}
	})
	t.Run("forgets the user's answers", func(t *testing.T) {
		c, tb := newCache()
		c.Live(true)
		tb.Put(tb.Ticket(), "a", 1, 1)
		tb.Put(tb.Ticket(), "b", 2, 2)
		c.handle("1")
		if _, ok := tb.Get("a"); ok {
			t.Error("user 1's answer kept after their notification")
		}
		if _, ok := tb.Get("b"); !ok {
			t.Error("user 2's answer dropped by user 1's notification")
		}
		c.handle("*")
		if _, ok := tb.Get("b"); ok {
			t.Error("an answer kept after a notification for everyone")
		}
	})
	t.Run("an answer read across a change is not kept", func(t *testing.T) {
		c, tb := newCache()
		c.Live(true)
		tk := tb.Ticket() // the read starts
		c.handle("9")     // a change of someone commits meanwhile
		tb.Put(tk, "a", 1, 1)
		if _, ok := tb.Get("a"); ok {
			t.Error("an answer read while a change was announced was kept")
		}
	})
	t.Run("expires", func(t *testing.T) {
		c, tb := newCache()
		c.Live(true)
		tb.Put(tb.Ticket(), "a", 1, 1)
		clock = clock.Add(time.Second)
		if _, ok := tb.Get("a"); ok {
			t.Error("an answer given after its TTL")
		}
	})
	t.Run("nil keeps nothing", func(t *testing.T) {
		var c *Cache
		tb := NewTable[string, int](c)
		tb.Put(tb.Ticket(), "a", 1, 1)
		if _, ok := tb.Get("a"); ok {
			t.Error("a nil cache gave an answer")
		}
		c.Forget(1)
	})
}

func TestCacheEcho(t *testing.T) {
	c := NewCache(time.Second, slog.New(slog.DiscardHandler))
	if _, _, ok := c.Echo(); ok {
		t.Fatal("Echo while not listening")
	}
	c.Live(true)
	tb := NewTable[string, int](c)
	tb.Put(tb.Ticket(), "a", 1, 1)
	payload, wait, ok := c.Echo()
	if !ok {
		t.Fatal("no Echo while listening")
	}
	done := make(chan struct{})
	go func() { wait(true); close(done) }()
	select {
	case <-done:
		t.Fatal("wait returned before the echo was heard")
	case <-time.After(50 * time.Millisecond):
	}
	c.handle(payload)
	select {
	case <-done:
	case <-time.After(echoWait / 2):
		t.Fatal("wait did not return once the echo was heard")
	}
	if _, ok := tb.Get("a"); !ok {
		t.Error("an echo dropped kept answers")
	}
	_, wait, _ = c.Echo()
	wait(false) // a failed change does not wait
	if len(c.echoes) != 0 {
		t.Errorf("%d echoes left waited for", len(c.echoes))
	}
}
