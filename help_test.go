package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// Every command's help, asked both ways, goes to stdout with exit 0 and
// shows its usage and each of its flags; the top-level help lists every
// command; an unknown command or help topic exits 2 (issue 14: each
// command's help).
func TestHelpOfEveryCommand(t *testing.T) {
	dir := t.TempDir()
	app := newApp()
	top, errOut, code := tierflow(t, dir, nil, "--help")
	if code != 0 || errOut != "" || !strings.Contains(top, "USAGE:\n   tierflow [global options] command") {
		t.Errorf("tierflow --help: exit %d, stderr %q\n%s", code, errOut, top)
	}
	for _, cmd := range app.Commands {
		if !cmd.Hidden && !strings.Contains(top, "\n   "+cmd.Name) {
			t.Errorf("tierflow --help does not list %s", cmd.Name)
		}
		for _, args := range [][]string{{"help", cmd.Name}, {cmd.Name, "--help"}, {cmd.Name, "-h"}} {
			out, errOut, code := tierflow(t, dir, nil, args...)
			what := "tierflow " + strings.Join(args, " ")
			if code != 0 || errOut != "" {
				t.Errorf("%s: exit %d, stderr %q", what, code, errOut)
				continue
			}
			for _, want := range []string{"NAME:\n   tierflow " + cmd.Name + " - " + cmd.Usage, "USAGE:\n   tierflow " + cmd.Name} {
				if !strings.Contains(out, want) {
					t.Errorf("%s does not say %q:\n%s", what, want, out)
				}
			}
			for _, f := range cmd.Flags {
				for _, name := range f.Names() {
					dash := "--"
					if len(name) == 1 {
						dash = "-"
					}
					if !strings.Contains(out, dash+name+" ") && !strings.Contains(out, dash+name+",") {
						t.Errorf("%s does not show the flag %s%s:\n%s", what, dash, name, out)
					}
				}
				if u, ok := f.(interface{ GetUsage() string }); ok && u.GetUsage() != "" {
					// The placeholder in backquotes shows as itself.
					usage := strings.ReplaceAll(u.GetUsage(), "`", "")
					if !strings.Contains(strings.Join(strings.Fields(out), " "), strings.Join(strings.Fields(usage), " ")) {
						t.Errorf("%s does not explain %s: %q", what, f.Names()[0], usage)
					}
				}
			}
		}
	}
	// A positional argument before --help is no help topic.
	if out, _, code := tierflow(t, dir, nil, "status", "some-run", "--help"); code != 0 || !strings.Contains(out, "tierflow status - ") {
		t.Errorf("status RUN --help: exit %d\n%s", code, out)
	}
	for _, args := range [][]string{{"nosuch"}, {"help", "nosuch"}, {"nosuch", "--help"}} {
		out, errOut, code := tierflow(t, dir, nil, args...)
		if code != 2 || out != "" || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, "tierflow: no command 'nosuch'") {
			t.Errorf("tierflow %s: exit %d, stdout %q, stderr %q; want exit 2 and one line naming the command", strings.Join(args, " "), code, out, errOut)
		}
	}
}

// An exit code a command chose (bench-child's) is the process's, and an
// empty message prints nothing.
func TestExitCoderPassesThrough(t *testing.T) {
	var out bytes.Buffer
	if code := report(&out, cli.Exit("", 4), false, ""); code != 4 || out.Len() != 0 {
		t.Errorf("exit %d, printed %q", code, out.String())
	}
}
