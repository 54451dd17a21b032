package backend

import (
	"log/slog"
	"net/http"
	"net/mail"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/waooaw/waooaw/internal/httpx"
	"github.com/waooaw/waooaw/internal/services/identity"
)

// apiFunc is a handler that returns its failure; handle writes it as a problem.
type apiFunc func(w http.ResponseWriter, r *http.Request) error

func handle(logger *slog.Logger, fn apiFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := fn(w, r)
		if err != nil && databaseUnreachable(err) {
			logger.WarnContext(r.Context(), "database unavailable", "error", err)
			err = unavailableProblem()
		}
		if err != nil {
			httpx.WriteError(w, r, logger, err)
		}
	})
}

// tenantOf says whose rows the caller may see.
func tenantOf(r *http.Request) tenant {
	c := identity.FromContext(r.Context())
	if c == nil || c.IsCustomerScoped() {
		t := tenant{}
		if c != nil {
			if id, err := uuid.Parse(c.CustomerID); err == nil {
				t.customerID = id.String()
			}
		}
		return t
	}
	return tenant{all: true}
}

func handleListIndustries(logger *slog.Logger, st *store) http.Handler {
	return handle(logger, func(w http.ResponseWriter, r *http.Request) error {
		if _, err := queryParams(r); err != nil {
			return err
		}
		items, err := st.listIndustries(r.Context())
		if err != nil {
			return err
		}
		httpx.WriteJSON(w, http.StatusOK, map[string]any{"items": items, "total": len(items)})
		return nil
	})
}

var agentStatuses = []string{"available", "working", "offline", "retired"}

func handleListAgents(logger *slog.Logger, st *store) http.Handler {
	return handle(logger, func(w http.ResponseWriter, r *http.Request) error {
		q, err := queryParams(r)
		if err != nil {
			return err
		}
		var v violations
		p := v.page(q.Get("limit"), q.Get("offset"))
		f := agentFilter{industry: q.Get("industry"), status: q.Get("status"), q: q.Get("q")}
		v.oneOf("status", f.status, agentStatuses, true)
		v.maxLen("q", f.q, 100)
		if f.industry != "" && v.ok() {
			ok := industryPattern.MatchString(f.industry)
			if ok {
				if ok, err = st.industryExists(r.Context(), f.industry); err != nil {
					return err
				}
			}
			if !ok {
				v.add("industry", "unknown industry "+quote(f.industry))
			}
		}
		if err := v.err(); err != nil {
			return err
		}
		out, err := st.listAgents(r.Context(), f, p)
		if err != nil {
			return err
		}
		httpx.WriteJSON(w, http.StatusOK, out)
		return nil
	})
}

func handleGetAgent(logger *slog.Logger, st *store) http.Handler {
	return handle(logger, func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathID(r, "id")
		if err != nil {
			return err
		}
		a, err := st.getAgent(r.Context(), id)
		if err != nil {
			return err
		}
		httpx.WriteJSON(w, http.StatusOK, a)
		return nil
	})
}

var currencyPattern = regexp.MustCompile(`^[A-Z]{3}$`)

// industryPattern is the form of an industry slug (the industries table checks the same), so a
// value that cannot be one is refused without asking the database.
var industryPattern = regexp.MustCompile(`^[a-z][a-z0-9-]{0,49}$`)

func handleCreateAgent(logger *slog.Logger, st *store) http.Handler {
	return handle(logger, func(w http.ResponseWriter, r *http.Request) error {
		var in newAgent
		if err := httpx.DecodeJSON(r, &in); err != nil {
			return err
		}
		var v violations
		in.Name = v.text("name", in.Name, 100)
		in.Industry = strings.TrimSpace(in.Industry)
		if v.required("industry", in.Industry) && !industryPattern.MatchString(in.Industry) {
			v.add("industry", "unknown industry "+quote(in.Industry))
		}
		in.Specialty = v.text("specialty", in.Specialty, 200)
		if in.PriceMonthly != nil && (*in.PriceMonthly < 0 || *in.PriceMonthly > 1_000_000_000) {
			v.add("price_monthly", "must be between 0 and 1000000000 (minor units)")
		}
		if in.Currency != nil && !currencyPattern.MatchString(*in.Currency) {
			v.add("currency", "must be a three-letter ISO 4217 code such as INR")
		}
		if err := v.err(); err != nil {
			return err
		}
		a, err := st.createAgent(r.Context(), in)
		if err != nil {
			return err
		}
		w.Header().Set("Location", "/api/v1/agents/"+a.ID)
		httpx.WriteJSON(w, http.StatusCreated, a)
		return nil
	})
}

func handleDeleteAgent(logger *slog.Logger, st *store) http.Handler {
	return handle(logger, func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathID(r, "id")
		if err != nil {
			return err
		}
		if err := st.retireAgent(r.Context(), id); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

func handleListCustomers(logger *slog.Logger, st *store) http.Handler {
	return handle(logger, func(w http.ResponseWriter, r *http.Request) error {
		q, err := queryParams(r)
		if err != nil {
			return err
		}
		var v violations
		p := v.page(q.Get("limit"), q.Get("offset"))
		if err := v.err(); err != nil {
			return err
		}
		out, err := st.listCustomers(r.Context(), tenantOf(r), p)
		if err != nil {
			return err
		}
		httpx.WriteJSON(w, http.StatusOK, out)
		return nil
	})
}

func handleGetCustomer(logger *slog.Logger, st *store) http.Handler {
	return handle(logger, func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathID(r, "id")
		if err != nil {
			return err
		}
		c, err := st.getCustomer(r.Context(), tenantOf(r), id)
		if err != nil {
			return err
		}
		httpx.WriteJSON(w, http.StatusOK, c)
		return nil
	})
}

func handleCreateCustomer(logger *slog.Logger, st *store) http.Handler {
	return handle(logger, func(w http.ResponseWriter, r *http.Request) error {
		var in newCustomer
		if err := httpx.DecodeJSON(r, &in); err != nil {
			return err
		}
		var v violations
		in.Name = v.text("name", in.Name, 200)
		in.Email = strings.TrimSpace(in.Email)
		if v.required("email", in.Email) && v.printable("email", in.Email, 254) {
			if a, err := mail.ParseAddress(in.Email); err != nil || a.Address != in.Email {
				v.add("email", "must be a plain email address such as name@example.com")
			}
		}
		in.Company = v.optionalText("company", in.Company, 200)
		in.Phone = v.optionalText("phone", in.Phone, 40)
		if err := v.err(); err != nil {
			return err
		}
		c, err := st.createCustomer(r.Context(), in)
		if err != nil {
			return err
		}
		w.Header().Set("Location", "/api/v1/customers/"+c.ID)
		httpx.WriteJSON(w, http.StatusCreated, c)
		return nil
	})
}

type agentRef struct {
	AgentID    string `json:"agent_id"`
	CustomerID string `json:"customer_id"`
}

func handleCreateSubscription(logger *slog.Logger, st *store) http.Handler {
	return handle(logger, func(w http.ResponseWriter, r *http.Request) error {
		customerID, err := pathID(r, "id")
		if err != nil {
			return err
		}
		var in struct {
			AgentID string `json:"agent_id"`
		}
		if err := httpx.DecodeJSON(r, &in); err != nil {
			return err
		}
		var v violations
		agentID := v.uuid("agent_id", in.AgentID)
		if err := v.err(); err != nil {
			return err
		}
		sub, err := st.createSubscription(r.Context(), tenantOf(r), customerID, agentID)
		if err != nil {
			return err
		}
		w.Header().Set("Location", "/api/v1/customers/"+customerID+"/subscriptions/"+sub.ID)
		httpx.WriteJSON(w, http.StatusCreated, sub)
		return nil
	})
}

func handleListSubscriptions(logger *slog.Logger, st *store) http.Handler {
	return handle(logger, func(w http.ResponseWriter, r *http.Request) error {
		customerID, err := pathID(r, "id")
		if err != nil {
			return err
		}
		if _, err := queryParams(r); err != nil {
			return err
		}
		items, err := st.listSubscriptions(r.Context(), tenantOf(r), customerID)
		if err != nil {
			return err
		}
		httpx.WriteJSON(w, http.StatusOK, map[string]any{"items": items, "total": len(items)})
		return nil
	})
}

func handleCancelSubscription(logger *slog.Logger, st *store) http.Handler {
	return handle(logger, func(w http.ResponseWriter, r *http.Request) error {
		customerID, err := pathID(r, "id")
		if err != nil {
			return err
		}
		subID, err := pathID(r, "sid")
		if err != nil {
			return err
		}
		if err := st.cancelSubscription(r.Context(), tenantOf(r), customerID, subID); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

func handleCreateTrial(logger *slog.Logger, st *store) http.Handler {
	return handle(logger, func(w http.ResponseWriter, r *http.Request) error {
		var in agentRef
		if err := httpx.DecodeJSON(r, &in); err != nil {
			return err
		}
		var v violations
		agentID := v.uuid("agent_id", in.AgentID)
		t := tenantOf(r)
		customerID := ""
		switch {
		case !t.all && in.CustomerID == "":
			customerID = t.customerID
			if customerID == "" {
				v.add("customer_id", "your token names no customer")
			}
		case !t.all:
			// A customer may name only their own customer; any other id is refused without
			// saying whether it exists.
			if id, err := uuid.Parse(in.CustomerID); err != nil || id.String() != t.customerID {
				v.add("customer_id", "must be your own customer id, or omitted")
			}
			customerID = t.customerID
		default:
			customerID = v.uuid("customer_id", in.CustomerID)
		}
		if err := v.err(); err != nil {
			return err
		}
		tr, err := st.createTrial(r.Context(), customerID, agentID)
		if err != nil {
			return err
		}
		w.Header().Set("Location", "/api/v1/trials/"+tr.ID)
		httpx.WriteJSON(w, http.StatusCreated, tr)
		return nil
	})
}

var trialStatuses = []string{"active", "converted", "cancelled", "expired"}

func handleListTrials(logger *slog.Logger, st *store) http.Handler {
	return handle(logger, func(w http.ResponseWriter, r *http.Request) error {
		q, err := queryParams(r)
		if err != nil {
			return err
		}
		var v violations
		p := v.page(q.Get("limit"), q.Get("offset"))
		f := trialFilter{status: q.Get("status")}
		v.oneOf("status", f.status, trialStatuses, true)
		if s := q.Get("customer_id"); s != "" {
			f.customerID = v.uuid("customer_id", s)
		}
		if err := v.err(); err != nil {
			return err
		}
		out, err := st.listTrials(r.Context(), tenantOf(r), f, p)
		if err != nil {
			return err
		}
		httpx.WriteJSON(w, http.StatusOK, out)
		return nil
	})
}

func handleGetTrial(logger *slog.Logger, st *store) http.Handler {
	return handle(logger, func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathID(r, "id")
		if err != nil {
			return err
		}
		tr, err := st.getTrial(r.Context(), tenantOf(r), id)
		if err != nil {
			return err
		}
		httpx.WriteJSON(w, http.StatusOK, tr)
		return nil
	})
}

func handleUpdateTrial(logger *slog.Logger, st *store) http.Handler {
	return handle(logger, func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathID(r, "id")
		if err != nil {
			return err
		}
		var in struct {
			Status string `json:"status"`
		}
		if err := httpx.DecodeJSON(r, &in); err != nil {
			return err
		}
		var v violations
		if v.required("status", in.Status) {
			v.oneOf("status", in.Status, []string{"converted", "cancelled"}, false)
		}
		if err := v.err(); err != nil {
			return err
		}
		tr, err := st.updateTrialStatus(r.Context(), tenantOf(r), id, in.Status)
		if err != nil {
			return err
		}
		httpx.WriteJSON(w, http.StatusOK, tr)
		return nil
	})
}

// pathID reads a UUID path parameter; a malformed one is a 422, not a 404, so clients learn the
// difference between "no such thing" and "that is not an id".
func pathID(r *http.Request, name string) (string, error) {
	var v violations
	id := v.uuid(name, chi.URLParam(r, name))
	return id, v.err()
}

// violations collects every problem with a request's input, so one 422 names them all.
type violations []httpx.Violation

func (v *violations) add(field, msg string) {
	*v = append(*v, httpx.Violation{Field: field, Message: msg})
}
func (v violations) ok() bool { return len(v) == 0 }

func (v violations) err() error {
	if len(v) == 0 {
		return nil
	}
	return httpx.Invalid(v...)
}

func (v *violations) required(field, s string) bool {
	if strings.TrimSpace(s) == "" {
		v.add(field, "is required")
		return false
	}
	return true
}

// text validates a required free-text field: trimmed, printable, at most max characters.
func (v *violations) text(field, s string, max int) string {
	s = strings.TrimSpace(s)
	if !v.required(field, s) {
		return s
	}
	v.printable(field, s, max)
	return s
}

func (v *violations) optionalText(field string, s *string, max int) *string {
	if s == nil {
		return nil
	}
	t := strings.TrimSpace(*s)
	if t == "" {
		return nil
	}
	v.printable(field, t, max)
	return &t
}

// printable checks a free-text field and reports whether it passed: valid UTF-8, at most max
// characters, and no invisible control character (see isControl).
func (v *violations) printable(field, s string, max int) bool {
	switch {
	case !utf8.ValidString(s):
		v.add(field, "must be valid UTF-8")
	case utf8.RuneCountInString(s) > max:
		v.add(field, "must be at most "+strconv.Itoa(max)+" characters")
	case strings.IndexFunc(s, isControl) >= 0:
		v.add(field, "must not contain control characters or invisible formatting characters (such as bidi overrides)")
	default:
		return true
	}
	return false
}

// isControl reports a character that has no place in a name or any other one-line text: the C0
// and C1 controls (Cc, NUL included, which PostgreSQL refuses), the format characters (Cf: the
// bidi embeddings, overrides and isolates U+202A–U+202E and U+2066–U+2069, the marks U+200E and
// U+200F, zero-width characters, the BOM), with which a name can display as something other
// than what it is, and the line and paragraph separators (Zl, Zp).
func isControl(r rune) bool {
	return unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp)
}

// queryParams parses the query string of a request to a list operation. Every parameter name
// and value must be valid UTF-8 without control characters: PostgreSQL refuses NUL and invalid
// UTF-8 outright (which would be a 500), and neither means anything in a filter. A query string
// that is not valid URL encoding is refused as well, where r.URL.Query would silently drop the
// parameter and list everything. The 422 names each bad parameter.
func queryParams(r *http.Request) (url.Values, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, httpx.Invalid(httpx.Violation{Field: "query", Message: "the query string is not valid URL encoding"})
	}
	names := make([]string, 0, len(q))
	for name := range q {
		names = append(names, name)
	}
	sort.Strings(names)
	var v violations
	for _, name := range names {
		if msg := badQueryText(name); msg != "" {
			v.add(url.QueryEscape(name), "the parameter's name "+msg)
			continue
		}
		for _, value := range q[name] {
			if msg := badQueryText(value); msg != "" {
				v.add(name, msg)
				break
			}
		}
	}
	return q, v.err()
}

func badQueryText(s string) string {
	switch {
	case !utf8.ValidString(s):
		return "must be valid UTF-8"
	case strings.IndexFunc(s, isControl) >= 0:
		return "must not contain control characters"
	}
	return ""
}

func (v *violations) maxLen(field, s string, max int) {
	if utf8.RuneCountInString(s) > max {
		v.add(field, "must be at most "+strconv.Itoa(max)+" characters")
	}
}

func (v *violations) oneOf(field, s string, allowed []string, optional bool) {
	if s == "" && optional {
		return
	}
	for _, a := range allowed {
		if s == a {
			return
		}
	}
	v.add(field, "must be one of "+strings.Join(allowed, ", "))
}

func (v *violations) uuid(field, s string) string {
	if s == "" {
		v.add(field, "is required")
		return ""
	}
	id, err := uuid.Parse(s)
	if err != nil || len(s) != 36 {
		v.add(field, "must be a UUID")
		return ""
	}
	return id.String()
}

// page parses limit (1–100, default 20) and offset (≥ 0, default 0).
func (v *violations) page(limit, offset string) page {
	p := page{limit: 20}
	if limit != "" {
		n, err := strconv.Atoi(limit)
		if err != nil || n < 1 || n > 100 {
			v.add("limit", "must be an integer from 1 to 100")
		} else {
			p.limit = n
		}
	}
	if offset != "" {
		n, err := strconv.Atoi(offset)
		if err != nil || n < 0 {
			v.add("offset", "must be an integer of 0 or more")
		} else {
			p.offset = n
		}
	}
	return p
}
