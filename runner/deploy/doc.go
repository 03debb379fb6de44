// Package deploy puts a job on AWS: the IAM roles with their
// least-privilege policies, the ECS task definition, the Step Functions
// state machine and the monthly EventBridge schedule.
//
// NewDeployment derives everything from the job and Options alone; Apply
// turns that Deployment into API calls (create or update), Render into a
// CloudFormation template and IAMPolicy into the policy documents, so the
// three cannot drift apart. Clients are the control-plane clients, shared
// with runner's run --on aws, runs and status.
//
// deploy imports jobs, statemachines and lake/awsconfig, never runner.
package deploy
