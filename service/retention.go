package service

import (
	"context"
	"time"

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

// housekeep keeps the tables that turn over from growing, until ctx ends: it prunes the message tables and
// vacuums the delivery queue at every interval. A failed round (the database restarting) is logged and tried
// again at the next: housekeeping is never a reason to stop serving.
func (s *Service) housekeep(ctx context.Context) error {
	log := s.log.WithField("component", "retention")
	for {
		if n, err := s.pruner.Prune(ctx); err != nil && ctx.Err() == nil {
			log.WithError(err).Warn("pruning acknowledged messages failed; trying again later")
		} else if n > 0 {
			log.WithField("messages", n).Debug("pruned acknowledged messages")
		}
		if err := s.Deliveries.Vacuum(ctx); err != nil && ctx.Err() == nil {
			log.WithError(err).Warn("vacuuming the delivery queue failed; trying again later")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(s.pruner.Interval()):
		}
	}
}
