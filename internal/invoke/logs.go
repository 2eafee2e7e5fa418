package invoke

import (
	"bytes"
	"fmt"
	"strings"
	"time"
)

// LogEvent is one line of a function's log.
type LogEvent struct {
	Time    time.Time
	Message string
}

// LogSink keeps function logs. Write must not block on storage: an
// invocation's latency does not wait for its log to be durable.
type LogSink interface {
	Write(group, stream string, events []LogEvent)
}

// logLines collects an invocation's log, one event per line.
type logLines struct {
	events []LogEvent
	size   int
}

// maxLogEvent is the longest log event (CloudWatch's 256 KB).
const maxLogEvent = 256 << 10

func (l *logLines) add(out []byte) {
	if len(out) == 0 {
		return
	}
	now := time.Now()
	for _, line := range strings.SplitAfter(string(out), "\n") {
		line = strings.TrimSuffix(line, "\n")
		if line == "" {
			continue
		}
		if len(line) > maxLogEvent {
			line = line[:maxLogEvent]
		}
		l.events = append(l.events, LogEvent{Time: now, Message: line})
		l.size += len(line) + 1
	}
}

func (l *logLines) addf(format string, args ...any) {
	l.events = append(l.events, LogEvent{Time: time.Now(), Message: fmt.Sprintf(format, args...)})
}

func (l *logLines) text() []byte {
	var b bytes.Buffer
	for _, e := range l.events {
		b.WriteString(e.Message)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// Tail is the last n bytes of a log, as LogType Tail returns them.
func Tail(log []byte, n int) []byte {
	if len(log) <= n {
		return log
	}
	return log[len(log)-n:]
}
