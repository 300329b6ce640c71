package plugin

// Conversions between the runtime package's types and their protobuf
// messages. Empty maps and slices come back as nil, the zero time as an
// unset Timestamp, so a zero value survives the trip unchanged.

import (
	"math"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	runtimev1 "github.com/parallax/parallax/sdk/internal/proto/runtime/v1"
	"github.com/parallax/parallax/sdk/runtime"
)

func infoToProto(in runtime.Info) *runtimev1.Info {
	out := &runtimev1.Info{
		Name:            in.Name,
		Version:         in.Version,
		ProtocolVersion: int32(in.ProtocolVersion),
		DefaultPriority: int32(in.DefaultPriority),
		Capabilities: &runtimev1.Capabilities{
			Resize:      in.Capabilities.Resize,
			Stats:       in.Capabilities.Stats,
			Adopt:       in.Capabilities.Adopt,
			CpuLimit:    in.Capabilities.CPULimit,
			MemoryLimit: in.Capabilities.MemoryLimit,
			Timeout:     in.Capabilities.Timeout,
		},
		AgentPaths: &runtimev1.AgentPaths{Home: in.AgentPaths.Home, Workdir: in.AgentPaths.Workdir},
	}
	for _, a := range in.ConfigSchema {
		out.ConfigSchema = append(out.ConfigSchema, &runtimev1.ConfigAttr{
			Name:        a.Name,
			Type:        a.Type,
			Required:    a.Required,
			Description: a.Description,
		})
	}
	return out
}

func infoFromProto(in *runtimev1.Info) runtime.Info {
	caps := in.GetCapabilities()
	out := runtime.Info{
		Name:            in.GetName(),
		Version:         in.GetVersion(),
		ProtocolVersion: int(in.GetProtocolVersion()),
		DefaultPriority: int(in.GetDefaultPriority()),
		Capabilities: runtime.Capabilities{
			Resize:      caps.GetResize(),
			Stats:       caps.GetStats(),
			Adopt:       caps.GetAdopt(),
			CPULimit:    caps.GetCpuLimit(),
			MemoryLimit: caps.GetMemoryLimit(),
			Timeout:     caps.GetTimeout(),
		},
		AgentPaths: runtime.AgentPaths{Home: in.GetAgentPaths().GetHome(), Workdir: in.GetAgentPaths().GetWorkdir()},
	}
	for _, a := range in.GetConfigSchema() {
		out.ConfigSchema = append(out.ConfigSchema, runtime.ConfigAttr{
			Name:        a.GetName(),
			Type:        a.GetType(),
			Required:    a.GetRequired(),
			Description: a.GetDescription(),
		})
	}
	return out
}

func sizeToProto(in runtime.Size) *runtimev1.Size {
	return &runtimev1.Size{Cols: uint32(in.Cols), Rows: uint32(in.Rows)}
}

func sizeFromProto(in *runtimev1.Size) runtime.Size {
	return runtime.Size{Cols: clampUint16(in.GetCols()), Rows: clampUint16(in.GetRows())}
}

func clampUint16(v uint32) uint16 {
	return uint16(min(v, math.MaxUint16))
}

func specToProto(in runtime.Spec) *runtimev1.Spec {
	return &runtimev1.Spec{
		Id:      in.ID,
		Argv:    in.Argv,
		Env:     in.Env,
		Workdir: in.Workdir,
		Size:    sizeToProto(in.Size),
		Resources: &runtimev1.Resources{
			Cpu:     in.Resources.CPU,
			Memory:  in.Resources.Memory,
			Timeout: durationToProto(in.Resources.Timeout),
		},
		Labels: in.Labels,
		Image:  in.Image,
		Home:   in.Home,
	}
}

func specFromProto(in *runtimev1.Spec) runtime.Spec {
	res := in.GetResources()
	return runtime.Spec{
		ID:      in.GetId(),
		Argv:    nilIfEmpty(in.GetArgv()),
		Env:     nilIfEmptyMap(in.GetEnv()),
		Workdir: in.GetWorkdir(),
		Size:    sizeFromProto(in.GetSize()),
		Resources: runtime.Resources{
			CPU:     res.GetCpu(),
			Memory:  res.GetMemory(),
			Timeout: durationFromProto(res.GetTimeout()),
		},
		Labels: nilIfEmptyMap(in.GetLabels()),
		Image:  in.GetImage(),
		Home:   in.GetHome(),
	}
}

func agentToProto(in runtime.AgentInfo) *runtimev1.AgentInfo {
	out := &runtimev1.AgentInfo{
		Id:        in.ID,
		State:     string(in.State),
		Pid:       int64(in.PID),
		StartedAt: timeToProto(in.StartedAt),
		Labels:    in.Labels,
		Warnings:  in.Warnings,
		Env:       in.Env,
	}
	if in.Exit != nil {
		out.Exit = exitToProto(*in.Exit)
	}
	return out
}

func agentFromProto(in *runtimev1.AgentInfo) runtime.AgentInfo {
	out := runtime.AgentInfo{
		ID:        in.GetId(),
		State:     runtime.State(in.GetState()),
		PID:       int(in.GetPid()),
		StartedAt: timeFromProto(in.GetStartedAt()),
		Labels:    nilIfEmptyMap(in.GetLabels()),
		Warnings:  nilIfEmpty(in.GetWarnings()),
		Env:       nilIfEmptyMap(in.GetEnv()),
	}
	if in.GetExit() != nil {
		exit := exitFromProto(in.GetExit())
		out.Exit = &exit
	}
	return out
}

func agentsToProto(in []runtime.AgentInfo) []*runtimev1.AgentInfo {
	var out []*runtimev1.AgentInfo
	for _, a := range in {
		out = append(out, agentToProto(a))
	}
	return out
}

func agentsFromProto(in []*runtimev1.AgentInfo) []runtime.AgentInfo {
	var out []runtime.AgentInfo
	for _, a := range in {
		out = append(out, agentFromProto(a))
	}
	return out
}

func exitToProto(in runtime.ExitStatus) *runtimev1.ExitStatus {
	return &runtimev1.ExitStatus{
		Code:     int32(in.Code),
		Signal:   in.Signal,
		Reason:   in.Reason,
		ExitedAt: timeToProto(in.ExitedAt),
	}
}

func exitFromProto(in *runtimev1.ExitStatus) runtime.ExitStatus {
	return runtime.ExitStatus{
		Code:     int(in.GetCode()),
		Signal:   in.GetSignal(),
		Reason:   in.GetReason(),
		ExitedAt: timeFromProto(in.GetExitedAt()),
	}
}

func statsToProto(in runtime.Stats) *runtimev1.StatsResponse {
	return &runtimev1.StatsResponse{
		CpuPercent:  in.CPUPercent,
		MemoryBytes: in.MemoryBytes,
		Uptime:      durationToProto(in.Uptime),
		Processes:   int32(in.Processes),
	}
}

func statsFromProto(in *runtimev1.StatsResponse) runtime.Stats {
	return runtime.Stats{
		CPUPercent:  in.GetCpuPercent(),
		MemoryBytes: in.GetMemoryBytes(),
		Uptime:      durationFromProto(in.GetUptime()),
		Processes:   int(in.GetProcesses()),
	}
}

func timeToProto(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func timeFromProto(ts *timestamppb.Timestamp) time.Time {
	if ts == nil {
		return time.Time{}
	}
	return ts.AsTime()
}

func durationToProto(d time.Duration) *durationpb.Duration {
	if d == 0 {
		return nil
	}
	return durationpb.New(d)
}

func durationFromProto(d *durationpb.Duration) time.Duration {
	if d == nil {
		return 0
	}
	return d.AsDuration()
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

func nilIfEmptyMap(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}
