// Package apidoc owns the platform's API description: the OpenAPI document both the backend and
// the gateway serve, and the route table derived from it. Each operation's x-permission names
// the permission the gateway enforces, so the document, the gateway's allow-list and its RBAC
// input cannot drift apart.
package apidoc

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"sort"
	"strings"
)

//go:embed openapi.json
var document []byte

// Route is one API operation.
type Route struct {
	Method     string // GET, POST, …
	Path       string // chi pattern, e.g. /api/v1/agents/{id}
	Permission string // e.g. agent.create
	Summary    string
	Responses  []string // status codes, sorted
}

// Resource and Action split the permission: agent.create → agent, create.
func (r Route) Resource() string { res, _, _ := strings.Cut(r.Permission, "."); return res }
func (r Route) Action() string   { _, act, _ := strings.Cut(r.Permission, "."); return act }

// Document is the OpenAPI 3 document as served at /openapi.json.
func Document() []byte { return document }

// Routes lists the permission-guarded operations of the document, sorted by path then method.
func Routes() ([]Route, error) {
	var doc struct {
		Paths map[string]map[string]struct {
			Summary    string
			Permission string `json:"x-permission"`
			Responses  map[string]json.RawMessage
		}
	}
	if err := json.Unmarshal(document, &doc); err != nil {
		return nil, fmt.Errorf("apidoc: openapi.json: %w", err)
	}
	var routes []Route
	for path, methods := range doc.Paths {
		for method, op := range methods {
			codes := make([]string, 0, len(op.Responses))
			for c := range op.Responses {
				codes = append(codes, c)
			}
			sort.Strings(codes)
			routes = append(routes, Route{strings.ToUpper(method), path, op.Permission, op.Summary, codes})
		}
	}
	sort.Slice(routes, func(i, j int) bool {
		if routes[i].Path != routes[j].Path {
			return routes[i].Path < routes[j].Path
		}
		return routes[i].Method < routes[j].Method
	})
	return routes, nil
}

// Handler serves the document.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(document)
	})
}

// docsPage renders the document as plain HTML: no JavaScript and nothing fetched from the
// internet, so it works offline.
var docsPage = template.Must(template.New("docs").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>WAOOAW API</title>
<style>body{font-family:system-ui,sans-serif;max-width:64rem;margin:2rem auto;padding:0 1rem}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.4rem;text-align:left;vertical-align:top}
code{background:#f4f4f4;padding:0 .2rem}</style></head>
<body><h1>WAOOAW API</h1><p>Every route needs <code>Authorization: Bearer &lt;JWT&gt;</code>; errors are RFC 9457 problem details.
Machine-readable: <a href="/openapi.json">/openapi.json</a></p>
<table><tr><th>Method</th><th>Path</th><th>Permission</th><th>Summary</th><th>Responses</th></tr>
{{range .}}<tr><td><code>{{.Method}}</code></td><td><code>{{.Path}}</code></td><td>{{.Permission}}</td><td>{{.Summary}}</td><td>{{range .Responses}}{{.}} {{end}}</td></tr>
{{end}}</table></body></html>`))

// DocsHandler serves the human-readable page (the services mount it at /docs, the gateway at /redoc too).
func DocsHandler() (http.Handler, error) {
	routes, err := Routes()
	if err != nil {
		return nil, err
	}
	var api []Route
	for _, r := range routes {
		if r.Permission != "" {
			api = append(api, r)
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		docsPage.Execute(w, api)
	}), nil
}
