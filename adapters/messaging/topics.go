package messaging

import (
	"fmt"
	"hash/fnv"
)

// Topics. Each is a table pair created by the migrations.
const (
	TopicEvents = "events"
	TopicPoison = "poison"
)

// CommandPartitions is how many command topics the migrations create, the most a database may use. A serial
// consumer per topic handles one command at a time, waiting on the database for most of it; several topics
// let several run at once where the database has several writers.
const CommandPartitions = 4

// CommandTopic is the topic of a partition; the first keeps the plain name "commands".
func CommandTopic(partition int) string {
	if partition == 0 {
		return "commands"
	}
	return fmt.Sprintf("commands_%d", partition)
}

// Partitioned is a command whose key picks its topic, so the commands with one key (one pass) are handled in
// the order they were sent. Other commands go to the first topic.
type Partitioned interface {
	PartitionKey() string
}

func commandTopicOf(command any, partitions int) string {
	return CommandTopic(partitionOf(command, partitions))
}

func partitionOf(command any, partitions int) int {
	p, ok := command.(Partitioned)
	if !ok {
		return 0
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(p.PartitionKey()))
	return int(h.Sum32() % uint32(partitions))
}
