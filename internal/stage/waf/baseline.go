package waf

import (
	"fmt"
	"io/fs"
)

// BaselineDirectives are the SecLang directives of the benchmark baseline
// (bench/corazaproxy) and of the baseline detection test: Coraza's
// recommended configuration with the rule engine on, the CRS setup at the
// given paranoia level, and every CRS rule file, the way Coraza's own
// documentation deploys it. Response body inspection is off, so that the
// baseline does no work the waf stage does not do.
func BaselineDirectives(paranoia int) string {
	return fmt.Sprintf(`Include @coraza.conf-recommended
SecRuleEngine On
SecResponseBodyAccess Off
SecAuditEngine Off
Include @crs-setup.conf.example
SecAction "id:900000,phase:1,pass,t:none,nolog,setvar:tx.blocking_paranoia_level=%d"
Include @owasp_crs/*.conf
`, paranoia)
}

// BaselineFS is the file system BaselineDirectives' includes resolve in
// (the embedded CRS).
func BaselineFS() fs.FS { return crsFS }
