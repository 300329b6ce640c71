package events

import "time"

// Name is an event's name, the "event" of its JSON.
type Name string

// The events. Each has a data type below, named after it, and the API
// documents both (internal/api/openapi.json, the Event schema; a test holds
// the two together).
const (
	AgentStarted  Name = "agent_started"
	AgentReady    Name = "agent_ready"
	AgentStopped  Name = "agent_stopped"
	AgentError    Name = "agent_error"
	LoginRequired Name = "login_required"
	Question      Name = "question"
	Message       Name = "message"
	Status        Name = "status"
	// EventsDropped is the WebSocket's own: a client fell behind.
	EventsDropped Name = "events_dropped"
	// AgentHealth is about an agent of the catalogue, not a managed one.
	AgentHealth Name = "agent_health"
	// The pattern engine's: about an execution, not an agent.
	ExecutionStarted   Name = "execution_started"
	StepCompleted      Name = "step_completed"
	ExecutionCompleted Name = "execution_completed"
	ExecutionFailed    Name = "execution_failed"
)

// Data is what an event carries, its "data" in JSON: one of the *Data
// types of this package, which says the event's Name.
type Data interface {
	EventName() Name
}

// All returns a zero value of each data type, in the order the API lists
// the events.
func All() []Data {
	return []Data{
		AgentStartedData{}, AgentReadyData{}, AgentStoppedData{}, AgentErrorData{},
		LoginRequiredData{}, QuestionData{}, MessageData{}, StatusData{}, EventsDroppedData{},
		AgentHealthData{}, ExecutionStartedData{}, StepCompletedData{}, ExecutionCompletedData{}, ExecutionFailedData{},
	}
}

// AgentStartedData: the agent's process runs, after a spawn or a restart.
type AgentStartedData struct {
	Name    string `json:"name"`
	Type    string `json:"type"`
	Runtime string `json:"runtime"`
	// Pooled, set by a spawn, says whether it started into the warm pool;
	// it is absent when the agent came from the pool (FromPool).
	Pooled *bool `json:"pooled,omitempty"`
	// FromPool: a spawn took the agent from the warm pool, already running.
	FromPool bool `json:"fromPool,omitempty"`
}

// AgentReadyData: the CLI showed its prompt for the first time, or again
// after a question or login. It carries nothing, and its JSON has no data.
type AgentReadyData struct{}

// AgentStoppedData: the agent's process ended.
type AgentStoppedData struct {
	// Reason says why, such as the error or the runtime's reason.
	Reason string `json:"reason"`
	// Code is the exit code, or -1 when a signal ended the process.
	Code   int    `json:"code"`
	Signal string `json:"signal"`
}

// AgentErrorData: the agent failed, or was lost with its runtime.
type AgentErrorData struct {
	Error string `json:"error"`
}

// Asked is the question a screen shows: in a question or login_required
// event when there is one.
type Asked struct {
	Question string `json:"question"`
	// Choices is null, not [], for a question without choices.
	Choices []string `json:"choices"`
	// Selected is the index of the highlighted choice, or -1.
	Selected int `json:"selected"`
}

// LoginRequiredData: the CLI waits for a login.
type LoginRequiredData struct {
	// LoginURL and DeviceCode are "" when the screen shows none.
	LoginURL   string `json:"loginUrl"`
	DeviceCode string `json:"deviceCode"`
	// Message says what to do, where the CLI shows no URL.
	Message string `json:"message,omitempty"`
	// *Asked is nil, and its fields absent, unless the screen asks a
	// question.
	*Asked
}

// QuestionData: the CLI asks something.
type QuestionData struct {
	// *Asked is nil, and its fields absent, when the adapter read no
	// question nor choices off the screen.
	*Asked
	// Message is the adapter's word on what the agent wants, if any.
	Message string `json:"message,omitempty"`
}

// MessageData: the agent's reply to a message.
type MessageData struct {
	Content string    `json:"content"`
	Role    string    `json:"role"`
	Time    time.Time `json:"time"`
}

// StatusData: the agent's status changed; From and To are session.Status
// values.
type StatusData struct {
	From   string `json:"from"`
	To     string `json:"to"`
	Reason string `json:"reason"`
}

// EventsDroppedData: a client of the event WebSocket fell behind and
// missed Count events.
type EventsDroppedData struct {
	Count int `json:"count"`
}

// AgentHealthData: an agent of the catalogue turned unhealthy, or healthy
// again.
type AgentHealthData struct {
	ID      string `json:"id"`
	Healthy bool   `json:"healthy"`
	// Source is where the catalogue has it from, a catalog.Source.
	Source string `json:"source"`
	// Error is why it is unhealthy, or "".
	Error string `json:"error,omitempty"`
}

// ExecutionStartedData: a pattern's execution started.
type ExecutionStartedData struct {
	ExecutionID string `json:"executionId"`
	Pattern     string `json:"pattern"`
}

// StepCompletedData: a step of an org chart's execution completed.
type StepCompletedData struct {
	ExecutionID string  `json:"executionId"`
	Pattern     string  `json:"pattern"`
	Step        string  `json:"step"`
	Confidence  float64 `json:"confidence"`
}

// ExecutionCompletedData: a pattern's execution completed.
type ExecutionCompletedData struct {
	ExecutionID string  `json:"executionId"`
	Pattern     string  `json:"pattern"`
	Confidence  float64 `json:"confidence"`
}

// ExecutionFailedData: a pattern's execution failed.
type ExecutionFailedData struct {
	ExecutionID string `json:"executionId"`
	Pattern     string `json:"pattern"`
	Error       string `json:"error"`
}

func (AgentStartedData) EventName() Name       { return AgentStarted }
func (AgentReadyData) EventName() Name         { return AgentReady }
func (AgentStoppedData) EventName() Name       { return AgentStopped }
func (AgentErrorData) EventName() Name         { return AgentError }
func (LoginRequiredData) EventName() Name      { return LoginRequired }
func (QuestionData) EventName() Name           { return Question }
func (MessageData) EventName() Name            { return Message }
func (StatusData) EventName() Name             { return Status }
func (EventsDroppedData) EventName() Name      { return EventsDropped }
func (AgentHealthData) EventName() Name        { return AgentHealth }
func (ExecutionStartedData) EventName() Name   { return ExecutionStarted }
func (StepCompletedData) EventName() Name      { return StepCompleted }
func (ExecutionCompletedData) EventName() Name { return ExecutionCompleted }
func (ExecutionFailedData) EventName() Name    { return ExecutionFailed }
