package api

import (
	"io"
	"net/http"
	"time"
)

// liftReadDeadline ends the server's ReadTimeout once the request's body
// is read. The timeout is there so a client can't hold a connection by
// sending its request slowly; once it is read, handlers may wait far
// longer (a send that waits on a reply, a WebSocket), and a deadline left
// in place would blind the server to a client that goes away.
func liftReadDeadline(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		if !hasBody(r) {
			_ = rc.SetReadDeadline(time.Time{})
		} else {
			r.Body = &liftOnEOF{ReadCloser: r.Body, lift: func() { _ = rc.SetReadDeadline(time.Time{}) }}
		}
		next.ServeHTTP(w, r)
	})
}

type liftOnEOF struct {
	io.ReadCloser
	lift   func()
	lifted bool
}

func (b *liftOnEOF) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF && !b.lifted {
		b.lifted = true
		b.lift()
	}
	return n, err
}
