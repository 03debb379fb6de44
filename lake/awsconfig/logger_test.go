package awsconfig_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/aws/smithy-go/logging"
	"github.com/rs/zerolog"

	"github.com/tierflow/tierflow/lake/awsconfig"
)

// The AWS SDK's own log lines come out as the command's log lines (issue
// 14, finding 7: they ignored --log-format).
func TestSDKLogThroughZerolog(t *testing.T) {
	var buf bytes.Buffer
	l := awsconfig.ZerologLogger(zerolog.New(&buf).Level(zerolog.InfoLevel))
	l.Logf(logging.Warn, "failed to discard remaining HTTP response body: %s", "boom")
	l.Logf(logging.Debug, "request %d", 1) // below the command's level
	var line map[string]any
	if err := json.Unmarshal(bytes.TrimSpace(buf.Bytes()), &line); err != nil {
		t.Fatalf("not one JSON line: %q (%v)", buf.String(), err)
	}
	if line["level"] != "warn" || line["source"] != "aws-sdk" || line["message"] != "failed to discard remaining HTTP response body: boom" {
		t.Errorf("SDK line: %v", line)
	}
}
