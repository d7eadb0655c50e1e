package live_test

import (
	"io"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/lib/pq"
)

// cutter forwards connections to PostgreSQL and can cut them all and refuse
// new ones, as a network failure between a server and its database would.
type cutter struct {
	// url is the database's connection string, through the cutter.
	url             string
	ln              net.Listener
	network, target string

	mu    sync.Mutex
	down  bool
	conns map[net.Conn]struct{}
}

func newCutter(t *testing.T, dsn string) *cutter {
	t.Helper()
	cfg, err := pq.NewConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(int(cfg.Port))
	p := &cutter{conns: map[net.Conn]struct{}{}, network: "tcp", target: net.JoinHostPort(cfg.Host, port)}
	var host string
	if filepath.IsAbs(cfg.Host) {
		// A Unix socket, as the test cluster uses: listen on one too, so the
		// server applies the same authentication rules.
		dir := t.TempDir()
		p.network, p.target = "unix", filepath.Join(cfg.Host, ".s.PGSQL."+port)
		p.ln, err = net.Listen("unix", filepath.Join(dir, ".s.PGSQL."+port))
		host = dir
	} else {
		p.ln, err = net.Listen("tcp", "127.0.0.1:0")
		if err == nil {
			host, port, _ = net.SplitHostPort(p.ln.Addr().String())
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	if u, err := url.Parse(dsn); err == nil && (strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")) {
		q := u.Query()
		q.Set("host", host)
		q.Set("port", port)
		u.RawQuery = q.Encode()
		p.url = u.String()
	} else {
		p.url = dsn + " host=" + host + " port=" + port
	}
	go p.serve()
	t.Cleanup(func() {
		p.ln.Close()
		p.cut()
	})
	return p
}

func (p *cutter) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.down {
			p.mu.Unlock()
			c.Close()
			continue
		}
		up, err := net.Dial(p.network, p.target)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns[c], p.conns[up] = struct{}{}, struct{}{}
		p.mu.Unlock()
		pipe := func(dst, src net.Conn) {
			io.Copy(dst, src)
			dst.Close()
			src.Close()
		}
		go pipe(up, c)
		go pipe(c, up)
	}
}

// cut closes every forwarded connection and refuses new ones until restore.
func (p *cutter) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

func (p *cutter) restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = false
}
