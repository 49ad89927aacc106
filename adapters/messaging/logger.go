package messaging

import (
	"context"
	"errors"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/sirupsen/logrus"
)

// logrusAdapter lets Watermill log through logrus. Watermill ships adapters for the standard library and slog
// only, and this one is five methods.
type logrusAdapter struct {
	entry *logrus.Entry
}

// NewLogger returns a Watermill logger writing to log.
func NewLogger(log *logrus.Entry) watermill.LoggerAdapter {
	return logrusAdapter{entry: log}
}

func (l logrusAdapter) Error(msg string, err error, fields watermill.LogFields) {
	entry := l.entry.WithFields(logrus.Fields(fields)).WithError(err)
	// Subscribers report their context's cancellation as an error on every shutdown; it is the normal way to stop.
	if errors.Is(err, context.Canceled) {
		entry.Debug(msg)
		return
	}
	entry.Error(msg)
}

func (l logrusAdapter) Info(msg string, fields watermill.LogFields) {
	// Watermill's Info is chatty (every subscriber start and stop); it belongs at debug level in our logs.
	l.entry.WithFields(logrus.Fields(fields)).Debug(msg)
}

func (l logrusAdapter) Debug(msg string, fields watermill.LogFields) {
	l.entry.WithFields(logrus.Fields(fields)).Debug(msg)
}

func (l logrusAdapter) Trace(msg string, fields watermill.LogFields) {
	l.entry.WithFields(logrus.Fields(fields)).Trace(msg)
}

func (l logrusAdapter) With(fields watermill.LogFields) watermill.LoggerAdapter {
	return logrusAdapter{entry: l.entry.WithFields(logrus.Fields(fields))}
}
