package main

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// reorderArgs lets flags stand anywhere on the command line, as people
// type them: after positional arguments (`status RUN --job J`), and global
// flags after the command (`runs --job J --log-level debug`). urfave/cli
// stops reading flags at the first positional argument and reads global
// flags only before the command, so the arguments are put in that order
// first: global flags, the command, its flags, its positional arguments.
// Everything after "--" stays where it is; with --help the positional
// arguments go (the help is the command's). It also returns the command's
// name ("" when there is none).
func reorderArgs(app *cli.App, args []string) ([]string, string) {
	if len(args) < 2 {
		return args, ""
	}
	global := flagArity(app.Flags)
	var globals, rest []string
	i := 1
	// Global flags before the command.
	for ; i < len(args) && isFlag(args[i]); i++ {
		n := consume(args, i, global)
		globals = append(globals, args[i:i+n]...)
		i += n - 1
	}
	if i >= len(args) {
		return args, ""
	}
	cmd := app.Command(args[i])
	if cmd == nil {
		return args, ""
	}
	local := flagArity(cmd.Flags)
	var flags, positional []string
	help := false
	for i++; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			rest = args[i:]
			i = len(args)
		case isFlag(a):
			name := flagName(a)
			if _, ok := local[name]; !ok {
				if _, ok := global[name]; ok {
					n := consume(args, i, global)
					globals = append(globals, args[i:i+n]...)
					i += n - 1
					continue
				}
			}
			help = help || name == "help" || name == "h"
			n := consume(args, i, local)
			flags = append(flags, args[i:i+n]...)
			i += n - 1
		default:
			positional = append(positional, a)
		}
	}
	if help {
		// `status RUN --help` asks for status's help: after --help, urfave
		// would take RUN as a help topic.
		positional = nil
	}
	out := append([]string{args[0]}, globals...)
	out = append(out, cmd.Name)
	out = append(out, flags...)
	out = append(out, positional...)
	return append(out, rest...), cmd.Name
}

// flagArity maps every name of flags to whether it takes a value.
func flagArity(flags []cli.Flag) map[string]bool {
	m := map[string]bool{"help": false, "h": false}
	for _, f := range flags {
		_, isBool := f.(*cli.BoolFlag)
		for _, n := range f.Names() {
			m[n] = !isBool
		}
	}
	return m
}

func isFlag(a string) bool { return len(a) > 1 && a[0] == '-' && a != "--" }

func flagName(a string) string {
	name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
	return name
}

// consume is how many arguments the flag at args[i] takes: 2 when it
// takes a value not given with "=", else 1.
func consume(args []string, i int, arity map[string]bool) int {
	if strings.Contains(args[i], "=") || !arity[flagName(args[i])] || i+1 >= len(args) {
		return 1
	}
	return 2
}
