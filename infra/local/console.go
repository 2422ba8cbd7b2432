package local

import (
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/dormancy/dormancy/console"
)

// listenConsole takes the console's address (none when addr is empty)
// before the REST API starts, so that the API knows the one origin its CORS
// answers for; serveConsole serves on it once the API's address is known.
func (s *Stack) listenConsole(addr string) error {
	if addr == "" {
		return nil
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	s.consoleListener = l
	s.ConsoleURL = "http://" + l.Addr().String()
	return nil
}

func (s *Stack) serveConsole() {
	if s.consoleListener == nil {
		return
	}
	srv := &http.Server{Handler: s.console(), ReadHeaderTimeout: 10 * time.Second}
	s.servers = append(s.servers, srv)
	go srv.Serve(s.consoleListener)
}

// console serves the admin console as CloudFront does (the same files, the
// same Content-Security-Policy, here allowing requests to the local API), a
// config.json in local mode, and the sign-in the console posts to: on its
// own origin, so that no CORS is needed for it, and, like every POST of the
// local stack, refused unless it says it is JSON (which a page of another
// origin cannot say without a preflight, never granted here).
func (s *Stack) console() http.Handler {
	mux := http.NewServeMux()
	files := http.FileServerFS(console.Files)
	mux.Handle("GET /", files)
	mux.HandleFunc("GET /config.json", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"mode": "local", "apiUrl": s.APIURL, "signInUrl": "/local/signin"})
	})
	mux.HandleFunc("POST /local/signin", jsonBody(s.signIn))
	csp := console.ContentSecurityPolicy(s.APIURL)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		mux.ServeHTTP(w, r)
	})
}

// cors answers the REST API's CORS as the deployed API does for the
// console: a preflight from the console's origin is granted (the headers
// and methods the stack's CORS options allow), and every response to it
// names that origin; any other origin gets nothing, so a browser keeps its
// pages from reading the API.
func (s *Stack) cors(api http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Vary", "Origin")
		origin := r.Header.Get("Origin")
		if s.ConsoleURL == "" || origin != s.ConsoleURL {
			api.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Access-Control-Allow-Origin", origin)
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			w.Header().Set("Access-Control-Allow-Headers", "Authorization,Content-Type")
			w.Header().Set("Access-Control-Allow-Methods", "GET,POST,PUT")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		api.ServeHTTP(w, r)
	})
}
