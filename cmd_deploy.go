package main

import (
	"github.com/urfave/cli/v2"

	"github.com/tierflow/tierflow/runner/deploy"
)

// deployCommand is `tierflow deploy`: create or update the job's AWS resources: IAM roles, ECS task definition, Step Functions state machine, monthly schedule, intake trigger.
func deployCommand(f commonFlags) *cli.Command {
	return &cli.Command{
		Name:  "deploy",
		Usage: "create or update the job's AWS resources: IAM roles, ECS task definition, Step Functions state machine, monthly schedule, intake trigger",
		Flags: deployFlags(f.job, true),
		Action: func(c *cli.Context) error {
			return deploy.Apply(c.Context, deployOptions(c))
		},
	}
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
		&cli.BoolFlag{Name: "no-intake", Usage: "no intake trigger for a job with source.complete_when (it runs on its schedule only)"},
	}
	if withAccount {
		flags = append(flags,
			&cli.StringFlag{Name: "region", Usage: "AWS `REGION` (default: the job's aws.region)"},
			&cli.StringFlag{Name: "account", Usage: "AWS `ACCOUNT` id (default: the caller's, from STS)"})
	}
	return flags
}

func deployOptions(c *cli.Context) deploy.Options {
	return deploy.Options{
		Job: c.String("job"), JobURI: c.String("job-uri"), Lake: c.String("lake"), Image: c.String("image"),
		Cluster: c.String("cluster"), Subnets: c.StringSlice("subnet"), SecurityGroups: c.StringSlice("security-group"),
		PublicIP: c.Bool("public-ip"), Name: c.String("name"), Region: c.String("region"), Account: c.String("account"),
		StorageGiB: c.Int("storage-gib"), NoSchedule: c.Bool("no-schedule"), NoIntake: c.Bool("no-intake"), Log: logOf(c), Stdout: c.App.Writer,
	}
}
