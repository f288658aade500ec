package report

import (
	"encoding/json"
	"errors"
	"io"

	"github.com/portcullis/portcullis/internal/scan"
)

// JSON writes r as indented JSON: the scan.Report as it is, with findings in
// report order and empty lists written as [] rather than null.
func JSON(w io.Writer, r *scan.Report) error {
	if r == nil {
		return errors.New("writing json report: nil report")
	}
	c, _ := sorted(r)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(c)
}
