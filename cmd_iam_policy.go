package main

import (
	"github.com/urfave/cli/v2"

	"github.com/tierflow/tierflow/runner/deploy"
)

// iamPolicyCommand is `tierflow iam-policy`: print the least-privilege IAM policies deploy attaches to the job's roles, and the operator's.
func iamPolicyCommand(f commonFlags) *cli.Command {
	return &cli.Command{
		Name:  "iam-policy",
		Usage: "print the least-privilege IAM policies deploy attaches to the job's roles, and the operator's",
		Flags: deployFlags(f.job, true),
		Action: func(c *cli.Context) error {
			return deploy.IAMPolicy(c.Context, deployOptions(c))
		},
	}
}
