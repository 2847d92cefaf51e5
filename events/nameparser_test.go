package events

import "testing"

func TestNameParserAgreesWithParseName(t *testing.T) {
	t.Parallel()
	specs := []ImageSpec{DefaultImageSpec(), {NameTemplate: "macos-{release}-bootstrap-{bootstrap}-bun-{bun}"}, {NameTemplate: "{release}{bun}"}}
	names := []string{"bun-build-macos-14-1.2.16-bootstrap-3.6", "bun-build-macos-14-1.2.16-bootstrap-3.60", "bun-build-macos-14-1.2.16-bootstrap-3.6-copy",
		"xbun-build-macos-14-1.2.16-bootstrap-3.6", "macos-15-bootstrap-4-bun-1.3", "macos-15-bootstrap-4-bun-", "", "14"}
	for _, s := range specs {
		p, err := s.NameParser()
		if (err != nil) != (s.NameTemplate == "{release}{bun}") { // no {bootstrap}
			t.Errorf("Got(NameParser(%q)) error = %v", s.NameTemplate, err)
		}
		for _, n := range names {
			ref, ok := p.Parse(n)
			wantRef, wantOK := s.ParseName(n)
			if ref != wantRef || ok != wantOK {
				t.Errorf("Got(NameParser(%q).Parse(%q)) = %+v, %v, want %+v, %v", s.NameTemplate, n, ref, ok, wantRef, wantOK)
			}
		}
	}
}
