package jobs

import (
	"fmt"
	"strings"
)

// Layout names every key a job writes below the lake root. Keeping the
// naming in one place keeps the runner, gc, rollback, deploy's IAM
// policies and the docs in step.
//
//	intake/...                                         partner drop (source.intake)
//	tier1/<job>/month=M/delivery=<fp>/<part>.csv.gz    pristine copy, never modified
//	tier2/<table>/month=M/run=<id>/BBBBBB_0_<part>.snappy.parquet
//	tier3/<table>/month=M/run=<id>/...
//	_tierflow/runs/<job>/<id>/parts/<part>.manifest.json|.rejects.csv
//	_tierflow/catalog.json, _tierflow/lineage.db        local catalog and lineage
//	_tierflow/openlineage/<time>_<job>_<runId>_<TYPE>.json   OpenLineage events (runner/openlineage)
type Layout struct {
	Spec *Spec
}

// Tier1Prefix is where a delivery of a month is kept, byte for byte.
func (l Layout) Tier1Prefix(month, delivery string) string {
	return fmt.Sprintf("tier1/%s/month=%s/delivery=%s/", l.Spec.Name, month, delivery)
}

// Tier2Prefix is the data prefix of one run of a month of the tier-2 table.
func (l Layout) Tier2Prefix(month, runID string) string {
	return TablePrefix(2, l.Spec.Output.Table, month, runID)
}

// Tier3Prefix is the data prefix of one run of a month of a derived table.
func (l Layout) Tier3Prefix(table, month, runID string) string {
	return TablePrefix(3, table, month, runID)
}

// TablePrefix is tier<N>/<table>/month=M/run=<id>/.
func TablePrefix(tier int, table, month, runID string) string {
	return fmt.Sprintf("tier%d/%s/month=%s/run=%s/", tier, table, month, runID)
}

// TableRoot is the table location registered in the catalog.
func TableRoot(tier int, table string) string {
	return fmt.Sprintf("tier%d/%s/", tier, table)
}

// RunMetaPrefix holds a run's manifests and rejects. It lies outside every
// table location: Trino refuses sub-directories inside bucketed partitions.
func (l Layout) RunMetaPrefix(runID string) string {
	return fmt.Sprintf("_tierflow/runs/%s/%s/", l.Spec.Name, runID)
}

// PartName derives the part name used in output file names from an intake
// key: the base name without .csv.gz / .gz / .csv, restricted to
// [A-Za-z0-9._-].
func PartName(key string) string {
	base := key[strings.LastIndex(key, "/")+1:]
	for _, ext := range []string{".csv.gz", ".gz", ".csv"} {
		if strings.HasSuffix(base, ext) {
			base = strings.TrimSuffix(base, ext)
			break
		}
	}
	b := []byte(base)
	for i, c := range b {
		ok := c == '.' || c == '_' || c == '-' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		if !ok {
			b[i] = '_'
		}
	}
	if len(b) == 0 {
		return "part"
	}
	return string(b)
}
