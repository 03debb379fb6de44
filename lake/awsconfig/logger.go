package awsconfig

import (
	"github.com/aws/smithy-go/logging"
	"github.com/rs/zerolog"
)

// ZerologLogger sends the AWS SDK's own log lines through zerolog, so they take
// the command's format (JSON on AWS) instead of the SDK's "SDK <date>"
// lines on stderr.
func ZerologLogger(log zerolog.Logger) logging.Logger {
	return logging.LoggerFunc(func(c logging.Classification, format string, v ...any) {
		ev := log.Warn()
		if c == logging.Debug {
			ev = log.Debug()
		}
		ev.Str("source", "aws-sdk").Msgf(format, v...)
	})
}
