package api

import (
	_ "embed"
	"net/http"
)

// openapiDoc describes every route; a test holds it to the router.
//
//go:embed openapi.json
var openapiDoc []byte

func (s *server) openapi(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(openapiDoc)
}
