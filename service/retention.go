package service

import (
	"context"

	"github.com/passpush/passpush/adapters/messaging"
	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/sirupsen/logrus"
)

// newPruner returns the pruner of the message tables the service's consumer groups read: the event topic, read
// by the projections, and every command topic, read by the command handler (a topic of a partition not in use
// keeps its messages until a group reads it). The poison topic is never pruned.
func newPruner(db *sqldb.DB, config messaging.RetentionConfig, log *logrus.Entry) (*messaging.Pruner, error) {
	topics := []messaging.PruneTopic{{Topic: messaging.TopicEvents, Groups: []string{ProjectionsGroup}}}
	for i := range messaging.CommandPartitions {
		topics = append(topics, messaging.PruneTopic{Topic: messaging.CommandTopic(i), Groups: []string{ScheduleCommandsGroup}})
	}
	return messaging.NewPruner(db, topics, config, log.WithField("component", "retention"))
}

// PruneMessages deletes now the messages that every consumer group has acknowledged and that are past the
// retention, as serve does in the background, and returns how many it deleted.
func (s *Service) PruneMessages(ctx context.Context) (int, error) { return s.pruner.Prune(ctx) }
