package main

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/auditgraph/auditgraph/audit"
)

// measureVerify times `auditgraph verify` recomputing the whole hash chain
// of the ingested organization from the database, against psql reading the
// same rows in the same order: the floor of any verification that reads them.
func (b *bench) measureVerify(ctx context.Context) error {
	var n int
	if err := b.db.GetContext(ctx, &n, `SELECT count(*) FROM audit_events WHERE org_id = $1`, b.orgID); err != nil {
		return err
	}
	if err := b.settle(ctx); err != nil {
		return err
	}
	cpu0 := b.cpuNow()
	cmd := exec.CommandContext(ctx, b.bin, "verify", "--org", "default", "--source", "database",
		"--database-url", b.dbURL, "--data-dir", serverDataDir(b.bin))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	ours := time.Since(start)
	ourCPU := b.cpuNow().sub(cpu0)
	if err != nil || !strings.Contains(out.String(), "database default: intact") {
		return fmt.Errorf("auditgraph verify: %v\n%s", err, out.String())
	}
	selfCPU := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	if err := b.settle(ctx); err != nil {
		return err
	}
	cpu0 = b.cpuNow()
	base, psqlCPU, err := b.psql(ctx, fmt.Sprintf(`\copy (SELECT seq, hash, %s FROM audit_events WHERE org_id = %d ORDER BY seq) to stdout`, chainColumns(), b.orgID), nil)
	if err != nil {
		return err
	}
	baseCPU := b.cpuNow().sub(cpu0)
	o, bs := float64(n)/ours.Seconds(), float64(n)/base.Seconds()
	b.rows = append(b.rows, row{metric: "verify whole chain, events/s", ours: fmt.Sprintf("%.0f", o), base: fmt.Sprintf("%.0f", bs),
		ratio: fmt.Sprintf("%.2f", o/bs), target: "—", info: true})
	b.notes = append(b.notes, fmt.Sprintf("Verify: `auditgraph verify --org default --source database` recomputed the chain of %d events (%s, CPU: PostgreSQL %s, verify %s) and found it intact; psql read the same rows in sequence order in %s (CPU: PostgreSQL %s, psql %s).",
		n, ours.Round(time.Millisecond), secs(ourCPU.pg), secs(selfCPU), base.Round(time.Millisecond), secs(baseCPU.pg), secs(psqlCPU)))
	logf("verify: %d events in %s (psql read %s)", n, ours.Round(time.Millisecond), base.Round(time.Millisecond))
	return nil
}

// chainColumns lists the columns the chain covers: every documented key's.
func chainColumns() string {
	cols := make([]string, 0, len(audit.Keys))
	for _, k := range audit.Keys {
		if k == audit.KeyTimestamp {
			cols = append(cols, "ts")
		} else {
			cols = append(cols, string(k))
		}
	}
	return strings.Join(cols, ", ")
}
