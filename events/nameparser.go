package events

// NameParser parses names with one spec's name template, compiled once, for
// callers that parse many names (ImageSpec.ParseName compiles on each call).
// The zero NameParser parses nothing.
type NameParser struct {
	parts tmplParts
}

// NameParser compiles the spec's name template. It fails as Validate does on
// a bad template; ParseName then parses nothing either.
func (s ImageSpec) NameParser() (NameParser, error) {
	parts, err := compileTemplate(s.template())
	if err != nil {
		return NameParser{}, err
	}
	return NameParser{parts: parts}, nil
}

// Parse is ImageSpec.ParseName with the compiled template.
func (p NameParser) Parse(name string) (ImageRef, bool) {
	if p.parts == nil {
		return ImageRef{}, false
	}
	return p.parts.parse(name)
}
