package runner

// Stage "stage": the parts' manifests checked against storage and the
// tier-2 partition staged (not published).

import (
	"context"
	"fmt"

	"github.com/tierflow/tierflow/container"
	"github.com/tierflow/tierflow/lake/lineage"
)

// stage reads every part's manifest back from storage and checks it
// against what is stored (rows read = written + rejected, every file there
// with its size, the input hash that of the tier-1 object); then the tier-2
// partition is staged. It is the same whether the parts were converted in
// this process or in Fargate tasks.
func (j *job) stage(ctx context.Context) (lineage.Stage, error) {
	st := lineage.Stage{}
	j.res.Manifests = nil
	j.tier1 = make([]pristineObject, len(j.plan.Parts))
	for i, p := range j.plan.Parts {
		var m container.Manifest
		key := container.ManifestKey(j.metaPrefix(), p.Name)
		if err := getJSON(ctx, j.env.Storage, key, &m); err != nil {
			return st, fmt.Errorf("part %s: manifest: %w", p.Name, err)
		}
		if m.Error != "" {
			return st, fmt.Errorf("part %s failed: %s", p.Name, m.Error)
		}
		if err := verifyManifest(ctx, j.env.Storage, &m); err != nil {
			return st, err
		}
		j.tier1[i] = pristineObject{part: p, key: j.tier1Key(p), sha256: m.InputSHA256, size: m.InputBytes}
		j.res.Manifests = append(j.res.Manifests, &m)
		addManifest(&st, &m)
	}
	j.run.RowsIn, j.run.RowsOut, j.run.RowsRejected = st.RowsIn, st.RowsOut, st.RowsRejected
	j.run.Inputs = nil
	for _, o := range j.tier1 {
		j.run.Inputs = append(j.run.Inputs,
			lineage.Dataset{URI: j.env.Storage.ObjectURI(o.part.Key), Kind: "object", Size: o.size, SHA256: o.sha256, ETag: o.part.ETag},
			lineage.Dataset{URI: j.env.Storage.ObjectURI(o.key), Kind: "object", Tier: 1, Size: o.size, SHA256: o.sha256})
	}
	t := Tier2Table(j.env.Storage, j.spec)
	p := MonthPartition(t, j.plan.Month, DirURI(j.env.Storage, j.dataPrefix()), j.run.ID)
	j.staged = []staged{{table: t, partition: p, prefix: j.dataPrefix(), rows: st.RowsOut}}
	return st, nil
}
