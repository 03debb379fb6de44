package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
)

// The real command line, end to end, for what the unit tests check in
// parts (issue 14): run --output json prints the summary object (finding
// 4); flags after positional arguments and global flags after the command
// are read (finding 2); JSON log lines have each key once and durations in
// seconds, named so (finding 4).
func TestCommandLineEndToEnd(t *testing.T) {
	dir := t.TempDir()
	genMonth(t, dir, 2000, 2)
	out, errOut, code := tierflow(t, dir, nil, "run", "--month", "2020-03", "--output", "json", "--job", "consumer-header", "--lake", dir)
	if code != 0 {
		t.Fatalf("run: exit %d\n%s", code, errOut)
	}
	var sum struct {
		RunID     string `json:"run_id"`
		Status    string `json:"status"`
		Published bool   `json:"published"`
		Parts     int    `json:"parts"`
		RowsOut   int64  `json:"rows_out"`
		Tables    []struct {
			Table string `json:"table"`
		} `json:"tables"`
	}
	if err := json.Unmarshal([]byte(out), &sum); err != nil || sum.RunID == "" || sum.Status != "COMPLETE" || !sum.Published ||
		sum.Parts != 2 || sum.RowsOut != 2000 || len(sum.Tables) != 3 {
		t.Fatalf("run --output json: %v\n%s", err, out)
	}
	for _, l := range strings.Split(strings.TrimSpace(errOut), "\n") {
		keys, err := jsonKeys(l)
		if err != nil {
			t.Fatalf("a log line that is not one JSON object: %q (%v)", l, err)
		}
		for k, n := range keys {
			if n > 1 {
				t.Errorf("key %q %d times in %s", k, n, l)
			}
			if k == "wall" || k == "elapsed" || k == "took" {
				t.Errorf("a duration without its unit (%s): %s", k, l)
			}
		}
	}

	for _, args := range [][]string{
		{"status", sum.RunID, "--job", "consumer-header", "--lake", dir, "--output", "json"},
		{"lineage", "--job", "consumer-header", "consumer_ca", "--lake", dir},
		{"runs", "--job", "consumer-header", "--lake", dir, "--log-level", "debug", "--log-format", "json"},
	} {
		out, errOut, code := tierflow(t, dir, nil, args...)
		if code != 0 || !strings.Contains(out, sum.RunID) {
			t.Errorf("tierflow %s: exit %d, stdout does not name run %s\n%s%s", strings.Join(args, " "), code, sum.RunID, out, errOut)
		}
	}
}

// jsonKeys counts the top-level keys of one JSON object.
func jsonKeys(line string) (map[string]int, error) {
	dec := json.NewDecoder(bytes.NewReader([]byte(line)))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, errors.New("not an object")
	}
	keys := map[string]int{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		keys[tok.(string)]++
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("more after the object")
	}
	return keys, nil
}
