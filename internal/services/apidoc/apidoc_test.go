package apidoc

import (
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRoutesCarryPermissions(t *testing.T) {
	routes, err := Routes()
	if err != nil {
		t.Fatal(err)
	}
	// The permissions of SPEC §4.3; every API operation names one of them.
	known := map[string]bool{}
	for _, p := range strings.Fields(`agent.view agent.create agent.delete industry.view customer.view customer.create
		subscription.create subscription.view subscription.cancel trial.create trial.view trial.update`) {
		known[p] = true
	}
	used := map[string]bool{}
	api := 0
	for _, r := range routes {
		if !strings.HasPrefix(r.Path, "/api/") {
			if r.Permission != "" {
				t.Errorf("%s %s is not an API route but names permission %s", r.Method, r.Path, r.Permission)
			}
			continue
		}
		api++
		if !known[r.Permission] {
			t.Errorf("%s %s: permission %q is not one of SPEC §4.3", r.Method, r.Path, r.Permission)
		}
		used[r.Permission] = true
		if r.Resource()+"."+r.Action() != r.Permission || r.Resource() == "" || r.Action() == "" {
			t.Errorf("%s splits into %q / %q", r.Permission, r.Resource(), r.Action())
		}
	}
	if api != 15 {
		t.Errorf("%d API operations, want the 15 of SPEC §3.2", api)
	}
	for p := range known {
		if !used[p] {
			t.Errorf("no route needs %s", p)
		}
	}
}

func TestDocsPageListsOperations(t *testing.T) {
	h, err := DocsHandler()
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/docs", nil))
	body := rec.Body.String()
	for _, want := range []string{"/api/v1/trials/{id}", "trial.update", "PATCH"} {
		if !strings.Contains(body, want) {
			t.Errorf("docs page lacks %q", want)
		}
	}
}
