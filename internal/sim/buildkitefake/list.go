package buildkitefake

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// buildFilter is the parsed query of a builds list request.
type buildFilter struct {
	org, pipeline string
	states        []State
	branches      []string
	commits       []string
	meta          map[string]string
	createdFrom   time.Time
	createdTo     time.Time
	finishedFrom  time.Time
}

func (s *Server) handleList(w http.ResponseWriter, r *http.Request) {
	f, err := parseBuildFilter(r)
	if err != nil {
		writeMessage(w, http.StatusBadRequest, err.Error())
		return
	}
	s.mu.Lock()
	if (f.pipeline != "" && s.pipelineLocked(f.org, f.pipeline) == nil) || (f.org != "" && !s.orgExists(f.org)) {
		s.mu.Unlock()
		writeMessage(w, http.StatusNotFound, "Not Found")
		return
	}
	var matched []wireBuild
	for _, b := range slices.Backward(s.builds) {
		if f.match(b) {
			matched = append(matched, s.buildJSON(b.clone(), s.pipelineLocked(b.Org, b.Pipeline), true))
		}
	}
	s.mu.Unlock()
	writePage(w, r, s.baseURL, matched)
}

func parseBuildFilter(r *http.Request) (buildFilter, error) {
	q := r.URL.Query()
	f := buildFilter{
		org:      r.PathValue("org"),
		pipeline: r.PathValue("pipeline"),
		branches: multi(q, "branch"),
		commits:  multi(q, "commit"),
		meta:     map[string]string{},
	}
	for _, st := range multi(q, "state") {
		if st == "finished" {
			f.states = append(f.states, StatePassed, StateFailed, "blocked", StateCanceled)
			continue
		}
		f.states = append(f.states, State(st))
	}
	for k, v := range q {
		if key, ok := strings.CutPrefix(k, "meta_data["); ok && strings.HasSuffix(key, "]") && len(v) > 0 {
			f.meta[strings.TrimSuffix(key, "]")] = v[0]
		}
	}
	for name, dst := range map[string]*time.Time{
		"created_from": &f.createdFrom, "created_to": &f.createdTo, "finished_from": &f.finishedFrom,
	} {
		if v := q.Get(name); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return f, fmt.Errorf("%s: %q is not an ISO 8601 time", name, v)
			}
			*dst = t
		}
	}
	return f, nil
}

// multi returns the values of name and name[] (Rails array syntax).
func multi(q url.Values, name string) []string {
	return append(slices.Clone(q[name]), q[name+"[]"]...)
}

func (f buildFilter) match(b *Build) bool {
	switch {
	case f.org != "" && b.Org != f.org,
		f.pipeline != "" && b.Pipeline != f.pipeline,
		len(f.states) > 0 && !slices.Contains(f.states, b.State),
		len(f.commits) > 0 && !slices.Contains(f.commits, b.Commit),
		len(f.branches) > 0 && !slices.ContainsFunc(f.branches, func(p string) bool { return globMatch(p, b.Branch) }),
		!f.createdFrom.IsZero() && b.CreatedAt.Before(f.createdFrom),
		!f.createdTo.IsZero() && !b.CreatedAt.Before(f.createdTo),
		!f.finishedFrom.IsZero() && (b.FinishedAt.IsZero() || b.FinishedAt.Before(f.finishedFrom)):
		return false
	}
	for k, v := range f.meta {
		if got, ok := b.MetaData[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// globMatch matches s against pattern where '*' matches any run of bytes
// (slashes included, as branch filters do).
func globMatch(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return strings.HasSuffix(s, parts[len(parts)-1])
}

const (
	defaultPerPage = 30
	maxPerPage     = 100
)

// writePage answers one page of items with the real API's Link header.
func writePage[T any](w http.ResponseWriter, r *http.Request, baseURL string, items []T) {
	q := r.URL.Query()
	page, _ := strconv.Atoi(q.Get("page"))
	page = max(page, 1)
	perPage, _ := strconv.Atoi(q.Get("per_page"))
	if perPage <= 0 {
		perPage = defaultPerPage
	}
	perPage = min(perPage, maxPerPage)
	last := max(1, (len(items)+perPage-1)/perPage)

	link := func(p int, rel string) string {
		q.Set("page", strconv.Itoa(p))
		q.Set("per_page", strconv.Itoa(perPage))
		return fmt.Sprintf(`<%s%s?%s>; rel="%s"`, baseURL, strings.TrimPrefix(r.URL.Path, "/"), q.Encode(), rel)
	}
	var links []string
	if page < last {
		links = append(links, link(page+1, "next"), link(last, "last"))
	}
	if page > 1 {
		links = append(links, link(1, "first"), link(min(page-1, last), "prev"))
	}
	if len(links) > 0 {
		w.Header().Set("Link", strings.Join(links, ", "))
	}
	lo := min((page-1)*perPage, len(items))
	hi := min(lo+perPage, len(items))
	out := items[lo:hi]
	if out == nil {
		out = []T{}
	}
	writeJSON(w, http.StatusOK, out)
}
