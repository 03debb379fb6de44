// Command tierflow runs tierflow jobs: monthly batch ETL from partner gzip
// CSV drops into tiered, catalogued Parquet with lineage. See README.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
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
	os.Exit(report(os.Stderr, err, interrupted, cmd == "run" || cmd == "publish"))
}

func newApp() *cli.App {
	jobFlag := &cli.StringFlag{Name: "job", Usage: "job spec `FILE` (or the name of a shipped job, e.g. consumer-header)", Required: true,
		EnvVars: []string{"TIERFLOW_JOB"}}
	lakeFlag := &cli.StringFlag{Name: "lake", Usage: "lake root `URI` (file://DIR, a directory, or s3://bucket/prefix); overrides the job's",
		EnvVars: []string{"TIERFLOW_LAKE"}}
	monthFlag := &cli.StringFlag{Name: "month", Usage: "data month `YYYY-MM`", Required: true}
	cli.VersionPrinter = func(c *cli.Context) { fmt.Fprintln(c.App.Writer, versionLine()) }
	app := &cli.App{
		Name:    "tierflow",
		Version: runner.Version,
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return usageError{err}
		},
		Usage: "monthly batch ETL: partner gzip CSV → tier 1 (pristine) → tier 2 (bucketed Parquet) → tier 3 (CTAS), with lineage",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "log-format", Usage: "json or console (default: console on a terminal, json otherwise)"},
			&cli.StringFlag{Name: "log-level", Value: "info", Usage: "debug, info, warn or error"},
			&cli.StringFlag{Name: "cpuprofile", Usage: "write a CPU profile of the command to `FILE` (go tool pprof)"},
		},
		Before: func(c *cli.Context) error {
			log, err := newLogger(c.String("log-format"), c.String("log-level"), os.Stderr)
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
			c.App.Metadata = map[string]any{"log": log}
			return nil
		},
		After: func(c *cli.Context) error {
			pprof.StopCPUProfile() // no-op without --cpuprofile
			return nil
		},
		Commands: []*cli.Command{
			{
				Name:  "gen",
				Usage: "write a synthetic month of the job's input into its intake location",
				Flags: []cli.Flag{jobFlag, monthFlag, lakeFlag,
					&cli.Int64Flag{Name: "rows", Value: 100_000, Usage: "rows in the month"},
					&cli.IntFlag{Name: "parts", Value: 4, Usage: "number of gzip CSV parts"},
					&cli.Int64Flag{Name: "seed", Value: 1, Usage: "random seed (same seed, same bytes)"},
				},
				Action: func(c *cli.Context) error {
					return runner.Gen(c.Context, runner.GenOptions{
						Job: c.String("job"), Lake: c.String("lake"), Month: c.String("month"),
						Rows: c.Int64("rows"), Parts: c.Int("parts"), Seed: c.Int64("seed"),
						Log: logOf(c), Stdout: c.App.Writer,
					})
				},
			},
			{
				Name:  "run",
				Usage: "run the monthly job: plan, pristine copy, convert, derive, publish, lineage",
				Description: "Locally (default) every step runs in this process. With --on aws the month runs as an\n" +
					"execution of the deployed state machine (tierflow deploy), followed until it ends.\n" +
					"--from M1 --to M2 runs a range of months (a backfill).",
				Flags: []cli.Flag{jobFlag, lakeFlag,
					&cli.StringFlag{Name: "month", Usage: "data month `YYYY-MM`"},
					&cli.StringFlag{Name: "from", Usage: "first month `YYYY-MM` of a backfill"},
					&cli.StringFlag{Name: "to", Usage: "last month `YYYY-MM` of a backfill (inclusive)"},
					&cli.BoolFlag{Name: "force", Usage: "rerun even if the month was published from identical inputs"},
					&cli.BoolFlag{Name: "keep-going", Usage: "backfill: run the other months after one fails (the command still fails, naming them)"},
					&cli.StringFlag{Name: "on", Value: "local", Usage: "`local` (this process) or aws (Step Functions)"},
					&cli.IntFlag{Name: "concurrency", Value: 2, Usage: "months run at once in an AWS backfill"},
					&cli.BoolFlag{Name: "rerun", Usage: "aws: start a new attempt of a month whose last execution failed"},
					&cli.BoolFlag{Name: "redrive", Usage: "aws: continue the month's last execution where it stopped"},
					&cli.BoolFlag{Name: "no-wait", Usage: "aws: start the executions and return"},
					&cli.DurationFlag{Name: "poll", Value: 15 * time.Second, Usage: "aws: interval between progress checks"},
					&cli.StringFlag{Name: "name", Usage: "aws: the deployment's base name (default tierflow-<job>)"},
					&cli.StringFlag{Name: "region", Usage: "aws: region of the state machine (default: the job's)"},
					&cli.StringFlag{Name: "account", Usage: "aws: account of the state machine (default: the caller's)"},
				},
				Action: func(c *cli.Context) error {
					switch c.String("on") {
					case "aws":
						return runner.AWSRunCommand(c.Context, runner.AWSRunOptions{
							Job: c.String("job"), Month: c.String("month"), From: c.String("from"), To: c.String("to"),
							Force: c.Bool("force"), Rerun: c.Bool("rerun"), Redrive: c.Bool("redrive"),
							Concurrency: c.Int("concurrency"), Poll: c.Duration("poll"), NoWait: c.Bool("no-wait"),
							Name: c.String("name"), Region: c.String("region"), Account: c.String("account"),
							Log: logOf(c), Stdout: c.App.Writer,
						})
					case "local":
						return runner.RunCommand(c.Context, runner.RunCommandOptions{
							Job: c.String("job"), Lake: c.String("lake"), Month: c.String("month"),
							From: c.String("from"), To: c.String("to"), KeepGoing: c.Bool("keep-going"),
							Force: c.Bool("force"), Log: logOf(c), Stdout: c.App.Writer, Progress: isTerminal(os.Stderr),
						})
					default:
						return fmt.Errorf("run: --on %q: use local or aws", c.String("on"))
					}
				},
			},

			{
				Name:  "convert",
				Usage: "convert one gzip CSV part into bucketed Parquet (the container's entrypoint)",
				Description: "Standalone: --part URI --out URI [--meta URI].\n" +
					"In a Step Functions execution: --execution E --part KEY (an intake key of the execution's plan):\n" +
					"the part is copied to tier 1, verified, and converted into the run's tier-2 prefix.",
				Flags: []cli.Flag{jobFlag, lakeFlag,
					&cli.StringFlag{Name: "part", Required: true, Usage: "the part's `URI` (file:///… or s3://…), or with --execution its intake key"},
					&cli.StringFlag{Name: "out", Usage: "output folder `URI` for the Parquet files"},
					&cli.StringFlag{Name: "meta", Usage: "folder `URI` for the manifest and rejects (default: OUT/_tierflow)"},
					executionFlag,
				},
				Action: func(c *cli.Context) error {
					if c.String("execution") != "" {
						return runner.PartCommand(c.Context, stepOptions(c), c.String("part"))
					}
					if c.String("out") == "" {
						return errors.New("convert: --out is required (or --execution to convert a part of a run)")
					}
					return runner.ConvertCommand(c.Context, runner.ConvertCommandOptions{
						Job: c.String("job"), Part: c.String("part"), Out: c.String("out"), Meta: c.String("meta"),
						Log: logOf(c), Stdout: c.App.Writer, Progress: isTerminal(os.Stderr),
					})
				},
			},
			{
				Name:  "plan",
				Usage: "step 1 of an execution: list the month's parts, claim the month, record the run (Step Functions task)",
				Flags: []cli.Flag{jobFlag, lakeFlag, executionFlag,
					&cli.StringFlag{Name: "month", Usage: "data month `YYYY-MM` (default: the previous month, UTC)"},
					&cli.BoolFlag{Name: "force", Usage: "rerun even if the month was published from identical inputs"},
				},
				Action: func(c *cli.Context) error {
					return runner.PlanCommand(c.Context, stepOptions(c), c.String("month"), c.Bool("force"))
				},
			},
			{
				Name:  "stage",
				Usage: "after every part is converted: check the manifests, stage tier 2, prepare the derived tables' CTAS (Step Functions task)",
				Flags: []cli.Flag{jobFlag, lakeFlag, executionFlag},
				Action: func(c *cli.Context) error {
					return runner.StageCommand(c.Context, stepOptions(c))
				},
			},
			{
				Name:  "publish",
				Usage: "after the derived tables are built: switch every partition to the run, record lineage (Step Functions task)",
				Flags: []cli.Flag{jobFlag, lakeFlag, executionFlag},
				Action: func(c *cli.Context) error {
					return runner.PublishCommand(c.Context, stepOptions(c))
				},
			},
			{
				Name:  "finish",
				Usage: "an execution failed: record the run as failed, remove what it wrote, release the month (Step Functions Catch)",
				Flags: []cli.Flag{jobFlag, lakeFlag, executionFlag,
					&cli.StringFlag{Name: "error", Usage: "the failure's cause, as the state machine reports it"},
				},
				Action: func(c *cli.Context) error {
					return runner.FinishCommand(c.Context, stepOptions(c), c.String("error"))
				},
			},
			{
				Name:  "runs",
				Usage: "list the job's runs: id, month, status, start, duration, rows in/out/rejected, cost",
				Flags: []cli.Flag{jobFlag, lakeFlag,
					&cli.StringFlag{Name: "month", Usage: "only this month"},
					&cli.BoolFlag{Name: "wide", Usage: "every column (rows in, vCPU-s, GB-s, Athena bytes, S3 requests) and whole errors; default: fits 120 columns"},
					&cli.StringFlag{Name: "on", Value: "local", Usage: "`local` (the lake's lineage) or aws (Step Functions executions joined with lineage)"},
					&cli.IntFlag{Name: "limit", Value: 20, Usage: "aws: executions listed"},
					&cli.StringFlag{Name: "name", Usage: "aws: the deployment's base name (default tierflow-<job>)"},
					&cli.StringFlag{Name: "region", Usage: "aws: region of the state machine (default: the job's)"},
					&cli.StringFlag{Name: "account", Usage: "aws: account of the state machine (default: the caller's)"},
				},
				Action: func(c *cli.Context) error {
					if c.String("on") == "aws" {
						return runner.AWSRunsCommand(c.Context, runner.StatusOptions{
							Job: c.String("job"), Lake: c.String("lake"), Limit: c.Int("limit"),
							Name: c.String("name"), Region: c.String("region"), Account: c.String("account"),
							Log: logOf(c), Stdout: c.App.Writer,
						})
					}
					return runner.RunsCommand(c.Context, c.String("job"), c.String("lake"), c.String("month"), c.Bool("wide"), logOf(c), c.App.Writer)
				},
			},

			{
				Name:      "lineage",
				Usage:     "show upstream and downstream of a table, partition or object",
				ArgsUsage: "DATASET (table, table/month=YYYY-MM, or an object URI)",
				Flags:     []cli.Flag{jobFlag, lakeFlag},
				Action: func(c *cli.Context) error {
					if c.NArg() != 1 {
						return errors.New("lineage: give exactly one DATASET, e.g. consumer_ca or consumer_ca/month=2020-03")
					}
					return runner.LineageCommand(c.Context, c.String("job"), c.String("lake"), c.Args().First(), logOf(c), c.App.Writer)
				},
			},
			{
				Name:  "init",
				Usage: "create what the job needs before its first run (AWS: DynamoDB lineage table, Glue database)",
				Flags: []cli.Flag{jobFlag, lakeFlag},
				Action: func(c *cli.Context) error {
					return runner.InitCommand(c.Context, c.String("job"), c.String("lake"), logOf(c), c.App.Writer)
				},
			},
			{
				Name:  "rollback",
				Usage: "switch a month back to an earlier complete run (default: the one before the published run)",
				Flags: []cli.Flag{jobFlag, monthFlag, lakeFlag,
					&cli.StringFlag{Name: "to", Usage: "the `RUN` id to go back to"},
				},
				Action: func(c *cli.Context) error {
					return runner.RollbackCommand(c.Context, c.String("job"), c.String("lake"), c.String("month"), c.String("to"), logOf(c), c.App.Writer)
				},
			},
			{
				Name:  "validate",
				Usage: "check a job before it runs: spec, schema, header sample, PII policy, and every derived table's SQL bound against the schema (DuckDB) and kept to what Athena runs; every problem at once, as file:line",
				Flags: []cli.Flag{jobFlag},
				Action: func(c *cli.Context) error {
					return runner.ValidateCommand(c.Context, c.String("job"), logOf(c), c.App.Writer)
				},
			},
			{
				Name:      "query",
				Usage:     "run SQL with DuckDB over what the job publishes: its tables by their catalog names, each month at its published run",
				ArgsUsage: "SQL",
				Flags: []cli.Flag{jobFlag, lakeFlag,
					&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "table", Usage: "`table`, csv or json"},
				},
				Action: func(c *cli.Context) error {
					return runner.QueryCommand(c.Context, c.String("job"), c.String("lake"), strings.Join(c.Args().Slice(), " "), c.String("output"), logOf(c), c.App.Writer)
				},
			},
			{
				Name:  "repair",
				Usage: "finish what a command that stopped after its commit left undone: every table's partitions point at the published run, its record and lineage are complete (every command does this for the months it touches)",
				Flags: []cli.Flag{jobFlag, lakeFlag,
					&cli.StringFlag{Name: "month", Usage: "only this month `YYYY-MM` (default: every month with runs)"},
				},
				Action: func(c *cli.Context) error {
					return runner.RepairCommand(c.Context, c.String("job"), c.String("lake"), c.String("month"), logOf(c), c.App.Writer)
				},
			},
			{
				Name:  "unlock",
				Usage: "release a month whose holder is known to be dead (refused while the holder is alive or renewing its lease)",
				Flags: []cli.Flag{jobFlag, monthFlag, lakeFlag},
				Action: func(c *cli.Context) error {
					return runner.UnlockCommand(c.Context, c.String("job"), c.String("lake"), c.String("month"), logOf(c), c.App.Writer)
				},
			},
			{
				Name:  "gc",
				Usage: "prune run prefixes that are neither published nor kept for rollback, and abandoned uploads",
				Flags: []cli.Flag{jobFlag, lakeFlag,
					&cli.IntFlag{Name: "keep", Value: 1, Usage: "complete runs kept per month besides the published one and the one rollback would pick"},
					&cli.BoolFlag{Name: "dry-run", Usage: "list what would be removed"},
					&cli.DurationFlag{Name: "temp-age", Value: 24 * time.Hour, Usage: "remove temporary files and incomplete uploads older than this outside dead runs (a dead run's go at once; nothing is swept while a run is in flight)"},
				},
				Action: func(c *cli.Context) error {
					return runner.GCCommand(c.Context, c.String("job"), c.String("lake"), runner.GCOptions{
						Keep: c.Int("keep"), DryRun: c.Bool("dry-run"), TempAge: c.Duration("temp-age"),
					}, logOf(c), c.App.Writer)
				},
			},
			benchCommand(),
			benchChildCommand(),
			{
				Name:  "demo",
				Usage: "generate a sample month and run the whole job in a fresh local lake, then summarise",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "dir", Value: "./tierflow-demo", Usage: "lake `DIR` (created fresh; an earlier demo there is replaced)"},
					&cli.Int64Flag{Name: "rows", Value: 100_000, Usage: "rows in the sample month"},
					&cli.IntFlag{Name: "parts", Value: 4, Usage: "gzip CSV parts"},
					&cli.StringFlag{Name: "month", Value: "2020-03", Usage: "data month `YYYY-MM`"},
				},
				Action: func(c *cli.Context) error {
					return runner.Demo(c.Context, runner.DemoOptions{
						Dir: c.String("dir"), Rows: c.Int64("rows"), Parts: c.Int("parts"), Month: c.String("month"),
						Log: logOf(c), Stdout: c.App.Writer, Progress: isTerminal(os.Stderr),
					})
				},
			},

			// ---- AWS orchestration: deploy, render, iam-policy, status
			// (runner/deploy*.go, runner/aws*.go; docs/aws.md). ----
			{
				Name:  "deploy",
				Usage: "create or update the job's AWS resources: IAM roles, ECS task definition, Step Functions state machine, monthly schedule",
				Flags: deployFlags(jobFlag, true),
				Action: func(c *cli.Context) error {
					return runner.DeployCommand(c.Context, deployOptions(c))
				},
			},
			{
				Name:  "render",
				Usage: "print what deploy creates as a CloudFormation template (JSON), for infrastructure as code",
				Flags: deployFlags(jobFlag, false),
				Action: func(c *cli.Context) error {
					return runner.RenderCommand(c.Context, deployOptions(c))
				},
			},
			{
				Name:  "iam-policy",
				Usage: "print the least-privilege IAM policies deploy attaches to the job's roles, and the operator's",
				Flags: deployFlags(jobFlag, true),
				Action: func(c *cli.Context) error {
					return runner.IAMPolicyCommand(c.Context, deployOptions(c))
				},
			},
			{
				Name:      "status",
				Usage:     "show one run: on AWS its Step Functions execution (stage, parts done, error), and its lineage record",
				ArgsUsage: "RUN (an execution name or ARN, or a run id)",
				Flags: []cli.Flag{jobFlag, lakeFlag,
					&cli.StringFlag{Name: "name", Usage: "the deployment's base `NAME` (default tierflow-<job>)"},
					&cli.StringFlag{Name: "region", Usage: "AWS `REGION` (default: the job's aws.region)"},
					&cli.StringFlag{Name: "account", Usage: "AWS `ACCOUNT` id (default: the caller's)"},
				},
				Action: func(c *cli.Context) error {
					if c.NArg() != 1 {
						return errors.New("status: give exactly one RUN")
					}
					return runner.StatusCommand(c.Context, runner.StatusOptions{
						Job: c.String("job"), Run: c.Args().First(), Lake: c.String("lake"), Name: c.String("name"),
						Region: c.String("region"), Account: c.String("account"), Log: logOf(c), Stdout: c.App.Writer,
					})
				},
			},
			// ---- end of AWS orchestration ----
		},
	}
	for _, cmd := range app.Commands {
		cmd.OnUsageError = app.OnUsageError
	}
	return app
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

func isTerminal(f *os.File) bool {
	return isatty.IsTerminal(f.Fd())
}

// newLogger builds the process logger: readable console lines on a
// terminal, JSON lines (CloudWatch) otherwise.
func newLogger(format, level string, w *os.File) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil || level == "" {
		return zerolog.Nop(), fmt.Errorf("--log-level %q: use debug, info, warn or error", level)
	}
	if format == "" {
		format = "json"
		if isTerminal(w) {
			format = "console"
		}
	}
	var out io.Writer
	switch format {
	case "json":
		out = w
	case "console":
		out = zerolog.ConsoleWriter{Out: w, TimeFormat: time.TimeOnly, NoColor: !isTerminal(w)}
	default:
		return zerolog.Nop(), fmt.Errorf("--log-format %q: use json or console", format)
	}
	return zerolog.New(out).Level(lvl).With().Timestamp().Logger(), nil
}

// deployFlags are deploy's, render's and iam-policy's; withAccount adds
// --account and --region (render leaves them to CloudFormation).
func deployFlags(jobFlag cli.Flag, withAccount bool) []cli.Flag {
	flags := []cli.Flag{jobFlag,
		&cli.StringFlag{Name: "lake", Usage: "the s3://bucket[/prefix] lake `URI` (default: the job's)"},
		&cli.StringFlag{Name: "image", Usage: "the tierflow container `IMAGE` (default: aws.image)"},
		&cli.StringFlag{Name: "job-uri", Usage: "for a job FILE: the s3:// `URI` of its copy, which the tasks read"},
		&cli.StringFlag{Name: "cluster", Usage: "ECS `CLUSTER` name or ARN (default: aws.cluster)"},
		&cli.StringSliceFlag{Name: "subnet", Usage: "subnet `ID` of the Fargate tasks, repeatable (default: aws.subnets)"},
		&cli.StringSliceFlag{Name: "security-group", Usage: "security group `ID`, repeatable (default: aws.security_groups)"},
		&cli.BoolFlag{Name: "public-ip", Usage: "give the tasks a public IP (public subnets without a NAT gateway)"},
		&cli.StringFlag{Name: "name", Usage: "base `NAME` of every resource (default tierflow-<job>)"},
		&cli.IntFlag{Name: "storage-gib", Usage: "the tasks' ephemeral storage in `GiB`, 21-200: the converter spills a part's decompressed rows there (≈ 7-10 × its gzip size)", Value: 200},
		&cli.BoolFlag{Name: "no-schedule", Usage: "no monthly schedule (runs start with tierflow run --on aws)"},
	}
	if withAccount {
		flags = append(flags,
			&cli.StringFlag{Name: "region", Usage: "AWS `REGION` (default: the job's aws.region)"},
			&cli.StringFlag{Name: "account", Usage: "AWS `ACCOUNT` id (default: the caller's, from STS)"})
	}
	return flags
}

func deployOptions(c *cli.Context) runner.DeployOptions {
	return runner.DeployOptions{
		Job: c.String("job"), JobURI: c.String("job-uri"), Lake: c.String("lake"), Image: c.String("image"),
		Cluster: c.String("cluster"), Subnets: c.StringSlice("subnet"), SecurityGroups: c.StringSlice("security-group"),
		PublicIP: c.Bool("public-ip"), Name: c.String("name"), Region: c.String("region"), Account: c.String("account"),
		StorageGiB: c.Int("storage-gib"), NoSchedule: c.Bool("no-schedule"), Log: logOf(c), Stdout: c.App.Writer,
	}
}
