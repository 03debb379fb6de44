// Command tierflow runs tierflow jobs: monthly batch ETL from partner gzip
// CSV drops into tiered, catalogued Parquet with lineage. See README.md.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"

	"github.com/tierflow/tierflow/runner"
)

func main() {
	if err := applyProjectFile(os.Getenv, os.Setenv); err != nil {
		fmt.Fprintln(os.Stderr, "tierflow:", oneLine(err))
		os.Exit(exitUsage)
	}
	for _, v := range []string{"TIERFLOW_JOB", "TIERFLOW_LAKE"} {
		if os.Getenv(v) == "" {
			os.Unsetenv(v) // set but empty is unset, not "the job named ''"
		}
	}
	app := newApp()
	args, cmd := reorderArgs(app, os.Args)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := app.RunContext(ctx, args)
	interrupted := ctx.Err() != nil
	stop()
	os.Exit(report(os.Stderr, err, interrupted, interruptNote(cmd, args)))
}

// commonFlags are the flags most commands share.
type commonFlags struct{ job, lake, month cli.Flag }

// newApp is the command line: global flags, logging, and one command per
// cmd_*.go file.
func newApp() *cli.App {
	f := commonFlags{}
	f.job = &cli.StringFlag{Name: "job", Usage: "job spec `FILE` (or the name of a shipped job, e.g. consumer-header)", Required: true,
		EnvVars: []string{"TIERFLOW_JOB"}}
	f.lake = &cli.StringFlag{Name: "lake", Usage: "lake root `URI` (file://DIR, a directory, or s3://bucket/prefix); overrides the job's",
		EnvVars: []string{"TIERFLOW_LAKE"}}
	f.month = &cli.StringFlag{Name: "month", Usage: "data month `YYYY-MM`", Required: true}
	cli.VersionPrinter = func(c *cli.Context) { fmt.Fprintln(c.App.Writer, versionLine()) }
	app := &cli.App{
		Name:    "tierflow",
		Version: runner.Version,
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return usageError{err}
		},
		// urfave/cli exits by itself (code 3) on an unknown command or
		// help topic; report says it once and exits 2.
		ExitErrHandler: func(*cli.Context, error) {},
		Usage:          "monthly batch ETL: partner gzip CSV → tier 1 (pristine) → tier 2 (bucketed Parquet) → tier 3 (CTAS), with lineage",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "log-format", Usage: "json or console (default: console on a terminal, json otherwise)"},
			&cli.StringFlag{Name: "log-level", Value: "info", Usage: "debug, info, warn or error"},
			&cli.StringFlag{Name: "cpuprofile", Usage: "write a CPU profile of the command to `FILE` (go tool pprof)"},
		},
		Before: func(c *cli.Context) error {
			con := runner.NewConsole(os.Stderr, isTerminal(os.Stderr))
			log, err := newLogger(c.String("log-format"), c.String("log-level"), con, isTerminal(os.Stderr))
			if err != nil {
				return err
			}
			if name := c.String("cpuprofile"); name != "" {
				f, err := os.Create(name)
				if err != nil {
					return fmt.Errorf("--cpuprofile: %w", err)
				}
				if err := pprof.StartCPUProfile(f); err != nil {
					return fmt.Errorf("--cpuprofile: %w", err)
				}
			}
			c.App.Metadata = map[string]any{"log": log, "console": con}
			return nil
		},
		After: func(c *cli.Context) error {
			pprof.StopCPUProfile() // no-op without --cpuprofile
			return nil
		},
		Commands: []*cli.Command{
			genCommand(f),
			runCommand(f),
			watchCommand(f),
			convertCommand(f),
			planCommand(f),
			stageCommand(f),
			publishCommand(f),
			finishCommand(f),
			runsCommand(f),
			lineageCommand(f),
			initCommand(f),
			rollbackCommand(f),
			validateCommand(f),
			queryCommand(f),
			repairCommand(f),
			unlockCommand(f),
			gcCommand(f),
			costCommand(f),
			lateCommand(f),
			benchCommand(),
			benchChildCommand(),
			demoCommand(f),
			deployCommand(f),
			renderCommand(f),
			iamPolicyCommand(f),
			statusCommand(f),
		},
	}
	for _, cmd := range app.Commands {
		cmd.OnUsageError = app.OnUsageError
	}
	return app
}

// outputFlag is --output of the commands that print for scripts too; the
// JSON is shaped as docs/schemas/cli.schema.json says.
func outputFlag() cli.Flag {
	return &cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "text", Usage: "`text` or json (docs/schemas/cli.schema.json)"}
}

// executionFlag names the Step Functions execution a step belongs to.
var executionFlag = &cli.StringFlag{Name: "execution", Usage: "the Step Functions execution `NAME` this step belongs to"}

func stepOptions(c *cli.Context) runner.StepOptions {
	return runner.StepOptions{Job: c.String("job"), Lake: c.String("lake"), Execution: c.String("execution"), Log: logOf(c), Stdout: c.App.Writer}
}

func logOf(c *cli.Context) zerolog.Logger {
	if l, ok := c.App.Metadata["log"].(zerolog.Logger); ok {
		return l
	}
	return zerolog.Nop()
}

// consoleOf is the terminal the logs go to, where a run draws its progress.
func consoleOf(c *cli.Context) *runner.Console {
	con, _ := c.App.Metadata["console"].(*runner.Console)
	return con
}

func isTerminal(f *os.File) bool {
	return isatty.IsTerminal(f.Fd())
}

// newLogger builds the process logger, writing to w: readable console
// lines on a terminal, JSON lines (CloudWatch) otherwise.
func newLogger(format, level string, w io.Writer, tty bool) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil || level == "" {
		return zerolog.Nop(), fmt.Errorf("--log-level %q: use debug, info, warn or error", level)
	}
	if format == "" {
		format = "json"
		if tty {
			format = "console"
		}
	}
	var out io.Writer
	switch format {
	case "json":
		out = w
	case "console":
		cw := zerolog.ConsoleWriter{Out: w, TimeFormat: time.TimeOnly, NoColor: !tty, FormatFieldValue: consoleValue}
		if lvl > zerolog.DebugLevel {
			cw.FormatPrepare = briefFields
		}
		out = cw
	default:
		return zerolog.Nop(), fmt.Errorf("--log-format %q: use json or console", format)
	}
	return zerolog.New(out).Level(lvl).With().Timestamp().Logger(), nil
}

// consoleValue writes a number with at most 4 significant digits
// (wall_s=2.893, not 2.8931852879999997); other values as they are.
func consoleValue(v any) string {
	if n, ok := v.(json.Number); ok && strings.ContainsAny(string(n), ".eE") {
		if f, err := n.Float64(); err == nil && math.Abs(f) < 1e4 {
			return strconv.FormatFloat(f, 'g', 4, 64)
		}
	}
	return fmt.Sprintf("%s", v) // as zerolog's own: arrays come as JSON bytes
}

// briefFields keeps a console line (above debug) to what a person reads at
// a glance, about one terminal line: the job, month and run show on the
// "run started" line only, the converter's internals (its input URI,
// passes, buffers, spills) at --log-level debug and in JSON logs only, and
// a failed run's error on the command's last line only.
func briefFields(ev map[string]any) error {
	msg, _ := ev[zerolog.MessageFieldName].(string)
	if strings.HasPrefix(msg, "run failed") {
		// The command's last line says the run's error: once on a console.
		delete(ev, zerolog.ErrorFieldName)
	}
	if msg != "run started" {
		delete(ev, "job")
		delete(ev, "month")
		delete(ev, "run")
	}
	for _, k := range []string{"input", "input_bytes", "rows_read", "workers", "builders", "row_groups", "pass1_s", "pass2_s", "peak_buffer_bytes",
		"spilled_bytes", "spilled_disk_bytes", "spilled_runs", "mb_per_s"} {
		delete(ev, k)
	}
	return nil
}
