package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestRoutingUsage: --routing takes threshold or topk, and topk refuses
// hard-concrete gates; each refusal is a usage error in one line naming
// the flag.
func TestRoutingUsage(t *testing.T) {
	base := []string{"train", "--model", "m", "--train", "d.jsonl", "--target", "0.5"}
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown", []string{"--routing", "top3"}, `--routing "top3": want threshold or topk`},
		{"hard-concrete", []string{"--routing", "topk", "--router", "hard-concrete"}, "--routing topk takes sigmoid or static routers"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(append(append([]string{}, base...), c.args...), &out, &errb)
			if code != 2 {
				t.Fatalf("exit %d, want 2; stderr %q", code, errb.String())
			}
			msg := strings.TrimRight(errb.String(), "\n")
			if strings.Contains(msg, "\n") || !strings.Contains(msg, c.want) {
				t.Errorf("stderr %q, want one line saying %q", msg, c.want)
			}
		})
	}
}
