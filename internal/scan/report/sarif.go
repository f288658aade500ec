package report

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"unicode"

	"github.com/owenrumney/go-sarif/v2/sarif"

	"github.com/portcullis/portcullis/internal/scan"
)

// informationURI is where the SARIF tool entry points users.
const informationURI = "https://github.com/portcullis/portcullis"

// fingerprintKey names the partial fingerprint Portcullis writes (versioned
// so a future change of the recipe does not merge unrelated alerts).
const fingerprintKey = "portcullisFinding/v1"

// SARIF writes r as a SARIF 2.1.0 log for code-scanning UIs:
//
//   - one rule per check id, with a name, a short description (the title of
//     its most severe finding), help text (the remediation), a default level
//     and properties: the OWASP category, tags, "security-severity" (a CVSS-like
//     number code-scanning UIs use to rank alerts: critical 9.5, high 8.0,
//     medium 5.5, low 3.0, info 0.0) and "precision" (from the confidence);
//   - one result per finding, with its level (critical and high → error,
//     medium → warning, low and info → note), a message, a location pointing
//     at the operation in the description file (artifact URI and start line
//     when Options.SpecSource holds the file), a logical location naming the
//     operation, a partial fingerprint (FindingID) for de-duplication, and
//     properties with the id, confidence, probe location, evidence and the
//     blocked mark (blocked findings are reported, with "blocked by a security
//     gateway" in the message);
//   - one invocation with the scan's start and end time, the target and the
//     request count.
func SARIF(w io.Writer, r *scan.Report, opts Options) error {
	if r == nil {
		return errors.New("writing sarif report: nil report")
	}
	log, err := sarifLog(r, opts)
	if err != nil {
		return fmt.Errorf("writing sarif report: %w", err)
	}
	if err := log.PrettyWrite(w); err != nil {
		return fmt.Errorf("writing sarif report: %w", err)
	}
	_, err = io.WriteString(w, "\n")
	return err
}

func sarifLog(r *scan.Report, opts Options) (*sarif.Report, error) {
	c, entries := sorted(r)
	log, err := sarif.New(sarif.Version210)
	if err != nil {
		return nil, err
	}
	version := opts.toolVersion()
	run := sarif.NewRun(sarif.Tool{Driver: &sarif.ToolComponent{
		Name:           "portcullis",
		FullName:       ptr("Portcullis API security scanner"),
		Version:        &version,
		InformationURI: ptr(informationURI),
		Rules:          []*sarif.ReportingDescriptor{},
	}})

	// Rules: one per check id, in order of first appearance (the most
	// severe finding of a check comes first, so it describes the rule).
	ruleIndex := map[string]uint{}
	for _, e := range entries {
		if _, ok := ruleIndex[e.CheckID]; ok {
			continue
		}
		ruleIndex[e.CheckID] = uint(len(run.Tool.Driver.Rules))
		run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, sarifRule(e.Finding))
	}

	artifact := artifactLocation(opts.specPath(&c))
	lines := newSpecLines(opts.SpecSource)
	for _, e := range entries {
		run.Results = append(run.Results, sarifResult(e, ruleIndex[e.CheckID], artifact, lines))
	}

	inv := &sarif.Invocation{ExecutionSuccessful: ptr(true)}
	if !c.Started.IsZero() {
		t := c.Started.UTC()
		inv.StartTimeUTC = &t
	}
	if !c.Finished.IsZero() {
		t := c.Finished.UTC()
		inv.EndTimeUTC = &t
	}
	inv.Properties = sarif.Properties{
		"target":     c.Target,
		"spec":       c.Spec,
		"requests":   c.Requests,
		"operations": len(c.Operations),
		"groups":     c.Groups,
		"changes":    c.Changes,
	}
	// Notes (an identity that stopped working, operations not sent, a
	// budget that ran out) are the invocation's notifications.
	for _, n := range c.Notes {
		inv.ToolExecutionNotifications = append(inv.ToolExecutionNotifications, &sarif.Notification{
			Level:   "note",
			Message: &sarif.Message{Text: ptr(n)},
		})
	}
	run.Invocations = []*sarif.Invocation{inv}
	if c.Performance != nil {
		run.Properties = sarif.Properties{"performance": c.Performance}
	}
	log.AddRun(run)
	return log, nil
}

func sarifRule(f scan.Finding) *sarif.ReportingDescriptor {
	tags := []string{"security", "api"}
	cweTag := ""
	if n, ok := strings.CutPrefix(f.CWE, "CWE-"); ok {
		// The tag GitHub code scanning shows CWE ids from.
		cweTag = "external/cwe/cwe-" + n
	}
	for _, t := range []string{f.Group, f.OWASP, cweTag} {
		if t != "" && !slices.Contains(tags, t) {
			tags = append(tags, t)
		}
	}
	props := sarif.Properties{
		"tags":              tags,
		"security-severity": securitySeverity(f.Severity),
		"precision":         precision(f.Confidence),
		"group":             f.Group,
	}
	if f.OWASP != "" {
		props["owasp"] = f.OWASP
		props["owasp-title"] = owaspTitles[f.OWASP]
	}
	if f.CWE != "" {
		props["cwe"] = f.CWE
	}
	short := f.Title
	if short == "" {
		short = f.CheckID
	}
	full := fmt.Sprintf("Portcullis check %s (group %s, %s).", f.CheckID, orDash(f.Group), owaspLabel(f.OWASP))
	help := f.Remediation
	if help == "" {
		help = "No remediation recorded for this check."
	}
	return &sarif.ReportingDescriptor{
		ID:                   f.CheckID,
		Name:                 ptr(ruleName(f.CheckID)),
		ShortDescription:     &sarif.MultiformatMessageString{Text: ptr(short)},
		FullDescription:      &sarif.MultiformatMessageString{Text: ptr(full)},
		Help:                 &sarif.MultiformatMessageString{Text: ptr(help), Markdown: ptr("**Remediation:** " + help)},
		DefaultConfiguration: &sarif.ReportingConfiguration{Level: *sarifLevel(f.Severity)},
		Properties:           props,
	}
}

func sarifResult(e entry, rule uint, artifact *sarif.ArtifactLocation, lines *specLines) *sarif.Result {
	msg := e.Title
	if e.Operation != "" {
		msg += " — " + e.Operation
	}
	if e.Location != "" {
		msg += " (" + e.Location + ")"
	}
	msg += "."
	if e.Evidence.Detail != "" {
		msg += " " + e.Evidence.Detail
	}
	if e.Blocked {
		msg = "[blocked by a security gateway] " + msg
	}

	loc := &sarif.Location{}
	if artifact != nil {
		a := *artifact
		loc.PhysicalLocation = &sarif.PhysicalLocation{ArtifactLocation: &a}
		if n := lines.line(e.Operation); n > 0 {
			loc.PhysicalLocation.Region = &sarif.Region{StartLine: ptr(n)}
		}
	}
	if e.Operation != "" {
		name := e.Operation
		if e.OperationID != "" {
			name = e.OperationID
		}
		loc.LogicalLocations = []*sarif.LogicalLocation{{
			Name:               ptr(name),
			FullyQualifiedName: ptr(e.Operation),
			Kind:               ptr("function"),
		}}
	}
	props := sarif.Properties{
		"id":         e.ID,
		"severity":   string(e.Severity),
		"confidence": string(e.Confidence),
		"group":      e.Group,
		"blocked":    e.Blocked,
		"evidence": map[string]string{
			"request":  e.Evidence.Request,
			"response": e.Evidence.Response,
			"detail":   e.Evidence.Detail,
		},
	}
	if e.OWASP != "" {
		props["owasp"] = e.OWASP
	}
	if e.CWE != "" {
		props["cwe"] = e.CWE
	}
	if e.Evidence.Curl != "" {
		props["curl"] = e.Evidence.Curl
	}
	if e.Location != "" {
		props["location"] = e.Location
	}
	res := &sarif.Result{
		RuleID:              ptr(e.CheckID),
		RuleIndex:           ptr(rule),
		Level:               sarifLevel(e.Severity),
		Message:             sarif.Message{Text: ptr(msg)},
		PartialFingerprints: map[string]any{fingerprintKey: e.Fingerprint},
		PropertyBag:         sarif.PropertyBag{Properties: props},
	}
	if loc.PhysicalLocation != nil || loc.LogicalLocations != nil {
		res.Locations = []*sarif.Location{loc}
	}
	return res
}

// artifactLocation turns the description's name into a SARIF artifact
// location: URLs stay as they are, absolute paths become file URIs, relative
// paths are relative to %SRCROOT% (the repository root in code scanning).
func artifactLocation(spec string) *sarif.ArtifactLocation {
	if spec == "" {
		return nil
	}
	if u, err := url.Parse(spec); err == nil && u.Scheme != "" && len(u.Scheme) > 1 {
		return &sarif.ArtifactLocation{URI: ptr(u.String())}
	}
	if filepath.IsAbs(spec) {
		u := url.URL{Scheme: "file", Path: filepath.ToSlash(spec)}
		return &sarif.ArtifactLocation{URI: ptr(u.String())}
	}
	p := strings.TrimPrefix(filepath.ToSlash(filepath.Clean(spec)), "./")
	u := url.URL{Path: p}
	return &sarif.ArtifactLocation{URI: ptr(u.String()), URIBaseId: ptr("%SRCROOT%")}
}

// sarifLevel maps a severity to a SARIF level.
func sarifLevel(s scan.Severity) *string {
	switch s {
	case scan.SeverityCritical, scan.SeverityHigh:
		return ptr("error")
	case scan.SeverityMedium:
		return ptr("warning")
	}
	return ptr("note")
}

// securitySeverity maps a severity to the "security-severity" property
// (a string holding a number from 0.0 to 10.0; GitHub reads > 9.0 as
// critical, 7.0–8.9 high, 4.0–6.9 medium, 0.1–3.9 low).
func securitySeverity(s scan.Severity) string {
	switch s {
	case scan.SeverityCritical:
		return "9.5"
	case scan.SeverityHigh:
		return "8.0"
	case scan.SeverityMedium:
		return "5.5"
	case scan.SeverityLow:
		return "3.0"
	}
	return "0.0"
}

// precision maps a confidence to the "precision" rule property.
func precision(c scan.Confidence) string {
	switch c {
	case scan.ConfidenceCertain:
		return "very-high"
	case scan.ConfidenceFirm:
		return "high"
	case scan.ConfidenceTentative:
		return "medium"
	}
	return "low"
}

// ruleName turns "injection.sql.error" into "InjectionSqlError".
func ruleName(checkID string) string {
	var b strings.Builder
	up := true
	for _, r := range checkID {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			up = true
			continue
		}
		if up {
			r = unicode.ToUpper(r)
			up = false
		}
		b.WriteRune(r)
	}
	if b.Len() == 0 {
		return "Check"
	}
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func ptr[T any](v T) *T { return &v }
