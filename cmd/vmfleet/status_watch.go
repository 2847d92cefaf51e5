package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/vmfleet/vmfleet/internal/cliconfig"
	"github.com/vmfleet/vmfleet/orchestrator/api"
)

// watchStatus redraws the fleet table every interval until ctx ends. On a
// terminal it clears the screen first, like watch(1); elsewhere tables are
// separated by a blank line, and with asJSON each poll is one JSON line. An
// unreachable orchestrator is reported and retried, not fatal: operators
// keep watching through a restart.
func watchStatus(ctx context.Context, c *api.Client, out io.Writer, interval time.Duration, asJSON bool) error {
	if interval <= 0 {
		return fmt.Errorf("%w: --interval %s: must be positive", cliconfig.ErrConfig, interval)
	}
	tty := isTerminal(out)
	t := time.NewTicker(interval)
	defer t.Stop()
	for first := true; ; first = false {
		var buf bytes.Buffer
		resp, err := c.Hosts(ctx)
		err = apiError(err)
		switch {
		case ctx.Err() != nil:
			return nil
		case asJSON && err == nil:
			b, _ := json.Marshal(resp)
			buf.Write(append(b, '\n'))
		case asJSON:
			b, _ := json.Marshal(map[string]string{"error": err.Error(), "at": time.Now().UTC().Format(time.RFC3339)})
			buf.Write(append(b, '\n'))
		default:
			if tty {
				buf.WriteString("\x1b[H\x1b[2J")
			} else if !first {
				buf.WriteByte('\n')
			}
			fmt.Fprintf(&buf, "Every %s: vmfleet status --server %s    %s\n\n", interval, c.BaseURL(), time.Now().Format("15:04:05"))
			if err != nil {
				fmt.Fprintf(&buf, "error: %v\n", err)
			} else if perr := printHosts(&buf, resp, time.Now()); perr != nil {
				return perr
			}
		}
		if _, err := out.Write(buf.Bytes()); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
