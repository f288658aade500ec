package scan

import (
	"context"
	"fmt"
	"sort"
	"strings"
)

// CheckInfo describes one check: what every finding of it carries besides
// its evidence. Report writers use it for rule metadata (SARIF rules).
type CheckInfo struct {
	// ID is the check id ("injection.sql.error").
	ID string
	// Group is the check group ("injection").
	Group string
	// Title is a one-line summary of the problem.
	Title string
	// OWASP is the OWASP API Security Top 10 2023 category.
	OWASP string
	// CWE is the number of the Common Weakness Enumeration entry the
	// problem is an instance of (89 for SQL injection); 0 when none fits.
	CWE int
	// Severity is the severity of a confirmed finding.
	Severity Severity
	// Remediation is one line on how to fix it.
	Remediation string
}

// CWEID is "CWE-89", or "" when the check names no CWE entry.
func (c CheckInfo) CWEID() string {
	if c.CWE <= 0 {
		return ""
	}
	return fmt.Sprintf("CWE-%d", c.CWE)
}

// OWASP API Security Top 10 2023 categories.
const (
	OWASPBOLA          = "API1:2023"
	OWASPAuthn         = "API2:2023"
	OWASPProperty      = "API3:2023"
	OWASPResource      = "API4:2023"
	OWASPBFLA          = "API5:2023"
	OWASPFlows         = "API6:2023"
	OWASPSSRF          = "API7:2023"
	OWASPMisconfig     = "API8:2023"
	OWASPInventory     = "API9:2023"
	OWASPUnsafeConsume = "API10:2023"
)

// check is a registered check. Checks are package variables declared next
// to the code that runs them (check_<group>.go), and findings are reported
// through the variable, so a misspelt check is a compile error rather than
// a panic in the middle of a scan.
type check struct{ CheckInfo }

// catalog holds every registered check by id.
var catalog = map[string]*check{}

// define registers a check at package initialisation. A duplicate id, an
// unknown group or a missing title, category or remediation is a
// programming error and panics when the package loads (every test run
// catches it), never mid-scan.
func define(info CheckInfo) *check {
	switch {
	case catalog[info.ID] != nil:
		panic("scan: check " + info.ID + " defined twice")
	case !knownGroup(info.Group):
		panic("scan: check " + info.ID + " has unknown group " + info.Group)
	case info.Title == "" || info.OWASP == "" || info.Remediation == "" || info.Severity.Rank() < 0:
		panic("scan: check " + info.ID + " lacks a title, OWASP category, remediation or severity")
	case !strings.HasPrefix(info.ID, groupPrefix(info.Group)+"."):
		panic("scan: check " + info.ID + " is not named after its group " + info.Group)
	}
	c := &check{info}
	catalog[info.ID] = c
	return c
}

func knownGroup(g string) bool {
	for _, x := range Groups {
		if x == g {
			return true
		}
	}
	return false
}

// groupPrefix is the first segment of the ids of a group's checks.
func groupPrefix(g string) string {
	switch g {
	case "authentication":
		return "authn"
	case "authorization":
		return "authz"
	case "misconfiguration":
		return "misconfig"
	}
	return g
}

// groupRunners run one check group each, registered by the group's file
// (runs) next to its checks.
var groupRunners = map[string]func(context.Context, *scanner){}

// runs registers the run function of a check group. An unknown group or a
// second registration panics when the package loads.
func runs(group string, f func(context.Context, *scanner)) bool {
	if !knownGroup(group) || groupRunners[group] != nil {
		panic("scan: run function of group " + group + " unknown or registered twice")
	}
	groupRunners[group] = f
	return true
}

// Checks returns every check the scanner has, ordered by id.
func Checks() []CheckInfo {
	out := make([]CheckInfo, 0, len(catalog))
	for _, c := range catalog {
		out = append(out, c.CheckInfo)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Check returns the description of check id and whether it exists.
func Check(id string) (CheckInfo, bool) {
	c, ok := catalog[id]
	if !ok {
		return CheckInfo{}, false
	}
	return c.CheckInfo, true
}
