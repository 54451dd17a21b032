package backend

import (
	_ "embed"
	"encoding/json"
	"html/template"
	"net/http"
	"sort"
	"strings"
)

// openAPIDocument is the backend's API description, served at /openapi.json. A test checks that
// it names every route the router serves.
//
//go:embed openapi.json
var openAPIDocument []byte

func handleOpenAPI() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(openAPIDocument)
	})
}

// docsPage renders the OpenAPI document as a plain HTML page: no JavaScript and nothing fetched
// from the internet, so it works offline.
var docsPage = template.Must(template.New("docs").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>{{.Title}}</title>
<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.4rem;text-align:left;vertical-align:top}
code{background:#f4f4f4;padding:0 .2rem}</style></head>
<body><h1>{{.Title}}</h1><p>{{.Description}}</p><p>Machine-readable: <a href="/openapi.json">/openapi.json</a></p>
<table><tr><th>Method</th><th>Path</th><th>Permission</th><th>Summary</th><th>Responses</th></tr>
{{range .Ops}}<tr><td><code>{{.Method}}</code></td><td><code>{{.Path}}</code></td><td>{{.Permission}}</td><td>{{.Summary}}</td><td>{{.Responses}}</td></tr>
{{end}}</table></body></html>`))

type docsOp struct{ Method, Path, Permission, Summary, Responses string }

func handleDocs() http.Handler {
	var doc struct {
		Info  struct{ Title, Description string }
		Paths map[string]map[string]struct {
			Summary    string
			Permission string `json:"x-permission"`
			Responses  map[string]any
		}
	}
	if err := json.Unmarshal(openAPIDocument, &doc); err != nil {
		panic("backend: embedded openapi.json is invalid: " + err.Error())
	}
	var ops []docsOp
	for path, methods := range doc.Paths {
		for method, op := range methods {
			codes := make([]string, 0, len(op.Responses))
			for c := range op.Responses {
				codes = append(codes, c)
			}
			sort.Strings(codes)
			ops = append(ops, docsOp{strings.ToUpper(method), path, op.Permission, op.Summary, strings.Join(codes, " ")})
		}
	}
	sort.Slice(ops, func(i, j int) bool {
		if ops[i].Path != ops[j].Path {
			return ops[i].Path < ops[j].Path
		}
		return ops[i].Method < ops[j].Method
	})
	data := struct {
		Title, Description string
		Ops                []docsOp
	}{doc.Info.Title, doc.Info.Description, ops}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		docsPage.Execute(w, data)
	})
}
