package protocol

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// maxRequestBytes bounds an /execute body, so one request can't take the
// agent's memory.
const maxRequestBytes = 16 << 20

// ServeHTTP serves the protocol's HTTP routes, which the package doc
// describes. To serve them under a path prefix, wrap s in
// http.StripPrefix and give Dial the prefixed URL.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mux.ServeHTTP(w, withIncomingHeaders(r))
}

func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	// Methods are checked by hand, not in the patterns, so that a wrong
	// one gets a JSON error like every other failure.
	mux.HandleFunc("/execute", s.handleExecute)
	mux.HandleFunc("/health", s.handleHealth)
	mux.HandleFunc("/output", s.handleOutput)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no route %s", r.URL.Path))
	})
	return mux
}

func (s *Server) handleExecute(w http.ResponseWriter, r *http.Request) {
	if !allowMethod(w, r, http.MethodPost) {
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBytes))
	if err != nil {
		if tooBig := (*http.MaxBytesError)(nil); errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("%v: request over %d bytes", ErrInvalid, tooBig.Limit))
			return
		}
		writeError(w, http.StatusBadRequest, fmt.Sprintf("reading request: %v", err))
		return
	}
	var req executeRequest
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("%v: malformed request: %v", ErrInvalid, err))
		return
	}
	data, err := dataFromJSON(req.Data)
	if err != nil {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("%v: data: %v", ErrInvalid, err))
		return
	}

	res, err := s.execute(r.Context(), Task{
		ID:          req.TaskID,
		Description: req.Description,
		Data:        data,
		Timeout:     fromMillis(req.Timeout),
	})
	if err != nil {
		writeError(w, httpStatus(err), err.Error())
		return
	}
	result, err := dataToJSON(res.Result)
	if err != nil {
		writeError(w, http.StatusInternalServerError, fmt.Sprintf("task %q: result is %v", res.TaskID, err))
		return
	}
	writeJSON(w, http.StatusOK, executeResponse{
		TaskID:     res.TaskID,
		Result:     result,
		Confidence: res.Confidence,
		Reasoning:  res.Reasoning,
	})
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	if !allowMethod(w, r, http.MethodGet) {
		return
	}
	h := s.h.Health(r.Context())
	code := http.StatusOK
	if !h.Healthy {
		// So that load balancers and probes that only look at the
		// status see it too.
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, healthResponse{Healthy: h.Healthy, Message: h.Message})
}

func (s *Server) handleOutput(w http.ResponseWriter, r *http.Request) {
	if !allowMethod(w, r, http.MethodGet) {
		return
	}
	id := r.URL.Query().Get("taskId")
	if id == "" {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("%v: taskId is missing", ErrInvalid))
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	// The headers go out now, not with the first output, which may be
	// long in coming: the client's request returns only once they arrive.
	_ = rc.Flush()
	err := s.follow(r.Context(), id, func(b []byte) error {
		if _, err := w.Write(b); err != nil {
			return err
		}
		return rc.Flush()
	})
	if err != nil {
		// A body that ends cleanly means the task ended; this one must
		// look broken instead.
		panic(http.ErrAbortHandler)
	}
}

// allowMethod reports whether r uses method, and answers 405 if not.
func allowMethod(w http.ResponseWriter, r *http.Request, method string) bool {
	if r.Method == method {
		return true
	}
	w.Header().Set("Allow", method)
	writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("%s %s: use %s", r.Method, r.URL.Path, method))
	return false
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	// An error here means the client went away; there is nobody to tell.
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, errorResponse{Error: msg})
}
