// Package protocol is the Agent protocol: how the parallax host, or anyone
// else, hands a task to an agent, asks whether it is healthy, and follows a
// task's output while it runs. An agent implements Handler and serves it
// with a Server over gRPC, HTTP or both; a caller reaches it with Dial.
//
// # gRPC
//
// The service parallax.agent.v1.Agent in internal/agentv1/agent.proto.
// Dial takes grpc://host:port (plaintext) or grpcs://host:port (TLS,
// checked against the system's roots).
//
// # HTTP
//
// Dial takes http:// and https:// URLs; a path in the URL prefixes the
// routes below. Bodies are JSON, timeouts are in milliseconds.
//
//	POST /execute  {"taskId": "t1", "description": "fix the bug", "data": ..., "timeout": 30000}
//	  200          {"taskId": "t1", "result": ..., "confidence": 0.9, "reasoning": "..."}
//	GET /health
//	  200 or 503   {"healthy": true, "message": "..."}
//	GET /output?taskId=t1
//	  200          the task's output as a chunked application/octet-stream
//	               body that ends when the task does
//
// Only description is required in /execute; a missing timeout or 0 means
// none. data and result may be any JSON value. An object, array, number,
// true or false arrives in Task.Data (or leaves Result.Result) as its JSON
// text; a string arrives as the string's text, so plain text needs no
// quoting; null or a missing field is empty. Going out, the rule is
// reversed: bytes that are such a JSON value are sent as it (whitespace may
// be dropped), any other UTF-8 text as a string. Bytes that are neither
// can't travel over HTTP; use gRPC for binary data.
//
// Errors are {"error": "message"} with status 400 for a malformed or
// invalid task, 504 when the task's timeout cut it off, 503 when the agent
// can't take tasks (ErrUnavailable), and 500 when the task failed.
//
// # Output
//
// Execute hands the Handler a writer for the task's output. StreamOutput,
// over either transport, follows one task id: it delivers what the task
// wrote so far (its last 1 MiB), then what it writes, and returns when the
// task ended. Asked before the task started, it waits for it, so a caller
// can start following and then execute without losing output.
//
// # Headers
//
// A caller can send context beside a task, such as a W3C traceparent,
// without the protocol knowing what it means: WithHeaders on the caller's
// side, HeadersFrom in the Handler. Over HTTP they are request headers,
// over gRPC request metadata. Keys are lower case on both sides, so
// OpenTelemetry's propagation.MapCarrier reads them as they come.
package protocol
