package main

import (
	"github.com/urfave/cli/v2"

	"github.com/tierflow/tierflow/runner/deploy"
)

// renderCommand is `tierflow render`: print what deploy creates as a CloudFormation template (JSON), for infrastructure as code.
func renderCommand(f commonFlags) *cli.Command {
	return &cli.Command{
		Name:  "render",
		Usage: "print what deploy creates as a CloudFormation template (JSON), for infrastructure as code",
		Flags: deployFlags(f.job, false),
		Action: func(c *cli.Context) error {
			return deploy.Render(c.Context, deployOptions(c))
		},
	}
}
