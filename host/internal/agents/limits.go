package agents

import "fmt"

// LimitError is a request past one of the host's limits (server { … }).
type LimitError struct {
	Setting string // as in the config, such as "server.max_agents"
	Limit   int
	What    string // what there are too many of
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("%s (%d) reached: there are %d %s already; end some (DELETE keeps nothing of an agent) or raise %s",
		e.Setting, e.Limit, e.Limit, e.What, e.Setting)
}
