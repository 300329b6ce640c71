package adapter

// RuleTables are the detector tables by agent type, for the recording
// tests in package adapter_test.
var RuleTables = map[string][]Rule{
	"claude": claudeRules,
	"codex":  codexRules,
	"gemini": geminiRules,
	"aider":  aiderRules,
}
