package awsfake

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// ECS is the fake Amazon ECS control plane for deployments (X-Amz-Target
// prefix "AmazonEC2ContainerServiceV20141113", JSON 1.1, SigV4 service
// "ecs", camelCase members): clusters and task definitions in memory.
// (Tasks themselves run inside Step Functions' ecs:runTask.sync, which
// the Step Functions fake scripts.)
//
// Operations: RegisterTaskDefinition, DescribeTaskDefinition,
// DescribeClusters, CreateCluster.
//
// RegisterTaskDefinition is checked the way ECS rejects Fargate task
// definitions (ClientException): family name, networkMode awsvpc, a cpu and
// memory pair Fargate offers, containers with a name and an image, awslogs
// options naming a group and region, and an execution role whenever a
// container logs through awslogs; role ARNs must be IAM role ARNs. Each
// registration is a new revision, like ECS.
type ECS struct {
	s        *Server
	mu       sync.Mutex
	families map[string][]map[string]any // family → revisions (index+1)
	clusters map[string]string           // name → ARN
}

// NewECS adds the fake ECS to s.
func NewECS(s *Server) *ECS {
	e := &ECS{s: s, families: map[string][]map[string]any{}, clusters: map[string]string{}}
	s.Register(&JSONService{
		TargetPrefix: "AmazonEC2ContainerServiceV20141113", SigningName: "ecs", JSONVersion: "1.1",
		Operations: map[string]Operation{
			"RegisterTaskDefinition": e.register,
			"DescribeTaskDefinition": e.describe,
			"DescribeClusters":       e.describeClusters,
			"CreateCluster":          e.createCluster,
		},
	})
	return e
}

// TaskDefinition returns the latest revision of family as registered (the
// decoded request plus taskDefinitionArn, revision and status), or nil.
func (e *ECS) TaskDefinition(family string) map[string]any {
	e.mu.Lock()
	defer e.mu.Unlock()
	revs := e.families[family]
	if len(revs) == 0 {
		return nil
	}
	return revs[len(revs)-1]
}

// Cluster returns a cluster's ARN, or "".
func (e *ECS) Cluster(name string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.clusters[name]
}

type keyValue struct {
	Name  *string `json:"name"`
	Value *string `json:"value"`
}

type containerDefinition struct {
	Name             *string    `json:"name"`
	Image            *string    `json:"image"`
	Essential        *bool      `json:"essential,omitempty"`
	Command          []string   `json:"command,omitempty"`
	EntryPoint       []string   `json:"entryPoint,omitempty"`
	Environment      []keyValue `json:"environment,omitempty"`
	User             string     `json:"user,omitempty"`
	StopTimeout      *int       `json:"stopTimeout,omitempty"`
	ReadonlyRootFS   *bool      `json:"readonlyRootFilesystem,omitempty"`
	LogConfiguration *struct {
		LogDriver *string           `json:"logDriver"`
		Options   map[string]string `json:"options,omitempty"`
	} `json:"logConfiguration,omitempty"`
}

type registerRequest struct {
	Family                  *string               `json:"family"`
	TaskRoleArn             string                `json:"taskRoleArn,omitempty"`
	ExecutionRoleArn        string                `json:"executionRoleArn,omitempty"`
	NetworkMode             string                `json:"networkMode,omitempty"`
	ContainerDefinitions    []containerDefinition `json:"containerDefinitions"`
	RequiresCompatibilities []string              `json:"requiresCompatibilities,omitempty"`
	Cpu                     string                `json:"cpu,omitempty"`
	Memory                  string                `json:"memory,omitempty"`
	RuntimePlatform         *struct {
		CpuArchitecture       string `json:"cpuArchitecture,omitempty"`
		OperatingSystemFamily string `json:"operatingSystemFamily,omitempty"`
	} `json:"runtimePlatform,omitempty"`
	EphemeralStorage *struct {
		SizeInGiB *int `json:"sizeInGiB"`
	} `json:"ephemeralStorage,omitempty"`
	Tags []struct {
		Key   string `json:"key"`
		Value string `json:"value"`
	} `json:"tags,omitempty"`
}

var familyRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,255}$`)

// FargateMemory reports whether Fargate offers memory MiB with cpu units
// (the table in the ECS developer guide, "Task CPU and memory").
func FargateMemory(cpu, memory int) bool {
	inRange := func(lo, hi, step int) bool { return memory >= lo && memory <= hi && (memory-lo)%step == 0 }
	switch cpu {
	case 256:
		return memory == 512 || memory == 1024 || memory == 2048
	case 512:
		return inRange(1024, 4096, 1024)
	case 1024:
		return inRange(2048, 8192, 1024)
	case 2048:
		return inRange(4096, 16384, 1024)
	case 4096:
		return inRange(8192, 30720, 1024)
	case 8192:
		return inRange(16384, 61440, 4096)
	case 16384:
		return inRange(32768, 122880, 8192)
	}
	return false
}

func clientErr(format string, args ...any) *Error {
	return BadRequest("ClientException", format, args...)
}

func (e *ECS) register(c *Call) (any, error) {
	var in registerRequest
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	if in.Family == nil || !familyRe.MatchString(*in.Family) {
		return nil, clientErr("RegisterTaskDefinition: family %v", in.Family)
	}
	fargate := false
	for _, rc := range in.RequiresCompatibilities {
		fargate = fargate || rc == "FARGATE"
	}
	if fargate {
		cpu, err1 := strconv.Atoi(in.Cpu)
		mem, err2 := strconv.Atoi(in.Memory)
		switch {
		case in.NetworkMode != "awsvpc":
			return nil, clientErr("Fargate requires networkMode awsvpc, got %q", in.NetworkMode)
		case err1 != nil || err2 != nil || !FargateMemory(cpu, mem):
			return nil, clientErr("No Fargate configuration exists for given values: cpu %q memory %q", in.Cpu, in.Memory)
		}
	}
	if in.EphemeralStorage != nil && (in.EphemeralStorage.SizeInGiB == nil || *in.EphemeralStorage.SizeInGiB < 21 || *in.EphemeralStorage.SizeInGiB > 200) {
		return nil, clientErr("ephemeralStorage.sizeInGiB must be 21..200")
	}
	for _, r := range []string{in.TaskRoleArn, in.ExecutionRoleArn} {
		if r != "" && !roleARNRe.MatchString(r) {
			return nil, clientErr("role %q is not an IAM role ARN", r)
		}
	}
	if len(in.ContainerDefinitions) == 0 {
		return nil, clientErr("no containerDefinitions")
	}
	for i, cd := range in.ContainerDefinitions {
		if cd.Name == nil || *cd.Name == "" || cd.Image == nil || *cd.Image == "" {
			return nil, clientErr("container %d needs a name and an image", i)
		}
		for _, kv := range cd.Environment {
			if kv.Name == nil || kv.Value == nil {
				return nil, clientErr("container %s: environment entries need name and value", *cd.Name)
			}
		}
		if lc := cd.LogConfiguration; lc != nil {
			if lc.LogDriver == nil {
				return nil, clientErr("container %s: logConfiguration without logDriver", *cd.Name)
			}
			if *lc.LogDriver == "awslogs" {
				if in.ExecutionRoleArn == "" {
					return nil, clientErr("container %s logs through awslogs: the task definition needs an executionRoleArn", *cd.Name)
				}
				if lc.Options["awslogs-group"] == "" || lc.Options["awslogs-region"] == "" {
					return nil, clientErr("container %s: awslogs needs awslogs-group and awslogs-region", *cd.Name)
				}
			}
		}
	}
	var raw map[string]any
	if err := json.Unmarshal(c.Body, &raw); err != nil {
		return nil, BadRequest("SerializationException", "%v", err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	rev := len(e.families[*in.Family]) + 1
	raw["revision"] = rev
	raw["status"] = "ACTIVE"
	raw["taskDefinitionArn"] = fmt.Sprintf("arn:aws:ecs:%s:%s:task-definition/%s:%d", Region, AccountID, *in.Family, rev)
	delete(raw, "tags")
	e.families[*in.Family] = append(e.families[*in.Family], raw)
	return map[string]any{"taskDefinition": raw}, nil
}

func (e *ECS) describe(c *Call) (any, error) {
	var in struct {
		TaskDefinition *string  `json:"taskDefinition"`
		Include        []string `json:"include,omitempty"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	if in.TaskDefinition == nil {
		return nil, clientErr("DescribeTaskDefinition: no taskDefinition")
	}
	td := *in.TaskDefinition
	if i := strings.LastIndex(td, "task-definition/"); i >= 0 {
		td = td[i+len("task-definition/"):]
	}
	family, revText, hasRev := strings.Cut(td, ":")
	e.mu.Lock()
	defer e.mu.Unlock()
	revs := e.families[family]
	n := len(revs)
	if hasRev {
		n, _ = strconv.Atoi(revText)
	}
	if n < 1 || n > len(revs) {
		return nil, Errorf("ClientException", "Unable to describe task definition %s.", *in.TaskDefinition)
	}
	return map[string]any{"taskDefinition": revs[n-1]}, nil
}

func (e *ECS) describeClusters(c *Call) (any, error) {
	var in struct {
		Clusters []string `json:"clusters,omitempty"`
		Include  []string `json:"include,omitempty"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	clusters, failures := []map[string]any{}, []map[string]any{}
	for _, name := range in.Clusters {
		n := name[strings.LastIndex(name, "/")+1:]
		if arn, ok := e.clusters[n]; ok {
			clusters = append(clusters, map[string]any{"clusterArn": arn, "clusterName": n, "status": "ACTIVE"})
		} else {
			failures = append(failures, map[string]any{"arn": fmt.Sprintf("arn:aws:ecs:%s:%s:cluster/%s", Region, AccountID, n), "reason": "MISSING"})
		}
	}
	return map[string]any{"clusters": clusters, "failures": failures}, nil
}

func (e *ECS) createCluster(c *Call) (any, error) {
	var in struct {
		ClusterName       *string  `json:"clusterName"`
		CapacityProviders []string `json:"capacityProviders,omitempty"`
		Tags              []struct {
			Key   string `json:"key"`
			Value string `json:"value"`
		} `json:"tags,omitempty"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	if in.ClusterName == nil || !familyRe.MatchString(*in.ClusterName) {
		return nil, clientErr("CreateCluster: clusterName %v", in.ClusterName)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	arn := fmt.Sprintf("arn:aws:ecs:%s:%s:cluster/%s", Region, AccountID, *in.ClusterName)
	e.clusters[*in.ClusterName] = arn
	return map[string]any{"cluster": map[string]any{"clusterArn": arn, "clusterName": *in.ClusterName, "status": "ACTIVE"}}, nil
}
