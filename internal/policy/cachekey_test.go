package policy

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
)

// policyReads returns the input paths the policy modules refer to, e.g. "user.roles".
func policyReads(t *testing.T) []string {
	t.Helper()
	var reads []string
	for _, m := range parseFiles(t, false) {
		ast.WalkRefs(m, func(ref ast.Ref) bool {
			if !ref[0].Equal(ast.InputRootDocument) {
				return false
			}
			var path []string
			for _, term := range ref[1:] {
				s, ok := term.Value.(ast.String)
				if !ok {
					break
				}
				path = append(path, string(s))
			}
			reads = append(reads, strings.Join(path, "."))
			return false
		})
	}
	slices.Sort(reads)
	return slices.Compact(reads)
}

// inputField is one leaf of the Input document: its JSON path and where it sits in the struct.
type inputField struct {
	path  string
	index []int
}

func inputFields(typ reflect.Type, prefix string, index []int) []inputField {
	var fields []inputField
	for i := range typ.NumField() {
		f := typ.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		path := prefix + name
		at := append(slices.Clone(index), i)
		if f.Type.Kind() == reflect.Struct {
			fields = append(fields, inputFields(f.Type, path+".", at)...)
			continue
		}
		fields = append(fields, inputField{path: path, index: at})
	}
	return fields
}

// covers reports whether reading path read means the policy depends on the field at leaf.
func covers(read, leaf string) bool {
	return read == "" || read == leaf || strings.HasPrefix(leaf, read+".") || strings.HasPrefix(read, leaf+".")
}

// TestCacheKeyHoldsExactlyWhatThePolicyReads keeps Input.CacheKey in step with the Rego: a
// field the policy reads must change the key (else a cached decision would answer a different
// request), and a field it does not read must not (else the cache would miss needlessly).
func TestCacheKeyHoldsExactlyWhatThePolicyReads(t *testing.T) {
	reads := policyReads(t)
	fields := inputFields(reflect.TypeFor[Input](), "", nil)

	var paths []string
	for _, f := range fields {
		paths = append(paths, f.path)
	}
	for _, read := range reads {
		if !slices.ContainsFunc(paths, func(p string) bool { return covers(read, p) }) {
			t.Errorf("the policy reads input.%s, which Input does not send", read)
		}
	}

	base := gatewayInput()
	base.Trial = Trial{Mode: true, ExpiresAt: "2026-12-01T00:00:00Z"}
	for _, f := range fields {
		changed := base
		changed.User.Roles = slices.Clone(base.User.Roles)
		v := reflect.ValueOf(&changed).Elem().FieldByIndex(f.index)
		switch v.Kind() {
		case reflect.String:
			v.SetString(v.String() + "x")
		case reflect.Bool:
			v.SetBool(!v.Bool())
		case reflect.Int64:
			v.SetInt(v.Int() + 1)
		case reflect.Slice:
			v.Set(reflect.Append(v, reflect.ValueOf("x")))
		default:
			t.Fatalf("input.%s: no way to change a %s", f.path, v.Kind())
		}

		read := slices.ContainsFunc(reads, func(r string) bool { return covers(r, f.path) })
		keyChanged := changed.CacheKey() != base.CacheKey()
		if read != keyChanged {
			t.Errorf("input.%s: policy reads it = %t, but changing it changes CacheKey = %t", f.path, read, keyChanged)
		}
	}
}

func TestCacheKeyIsUnambiguous(t *testing.T) {
	a, b := gatewayInput(), gatewayInput()
	a.User.Roles = []string{"viewer", "admin"}
	b.User.Roles = []string{`viewer" "admin`}
	if a.CacheKey() == b.CacheKey() {
		t.Errorf("roles %q and %q share the key %s", a.User.Roles, b.User.Roles, a.CacheKey())
	}
}
