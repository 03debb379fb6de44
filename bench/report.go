package bench

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tierflow/tierflow/runner"
)

// writeOutputs writes report.json, report.md and the charts.
func (b *bencher) writeOutputs() error {
	var errs []error
	dir := b.opts.OutDir
	write := func(name string, data []byte) {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			errs = append(errs, err)
			return
		}
		b.res.Outputs = append(b.res.Outputs, p)
	}
	if b.res.Convert != nil {
		if png, err := convertChart(b.res.Convert); err != nil {
			errs = append(errs, fmt.Errorf("convert chart: %w", err))
		} else {
			write("convert.png", png)
		}
	}
	if b.res.Queries != nil {
		if png, err := scannedChart(b.res.Queries); err != nil {
			errs = append(errs, fmt.Errorf("scanned chart: %w", err))
		} else {
			write("scanned.png", png)
		}
	}
	var md bytes.Buffer
	writeMarkdown(&md, b.res)
	write("report.md", md.Bytes())
	// report.json lists itself among the outputs.
	b.res.Outputs = append(b.res.Outputs, filepath.Join(dir, "report.json"))
	js, err := json.MarshalIndent(b.res, "", "  ")
	if err != nil {
		errs = append(errs, err)
	} else if err := os.WriteFile(filepath.Join(dir, "report.json"), append(js, '\n'), 0o644); err != nil {
		errs = append(errs, err)
	}
	fmt.Fprintf(b.w, "\nwritten: %s\n", strings.Join(b.res.Outputs, ", "))
	return errors.Join(errs...)
}

// humanBytes prints bytes in binary units (KiB, MiB, GiB: the "KB, MB, GB"
// of Athena's console and of the case study).
func humanBytes(n int64) string {
	f := float64(n)
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", f/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.2f MiB", f/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", f/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func usd(x float64) string {
	if x == 0 {
		return "-"
	}
	if x < 0.01 {
		return fmt.Sprintf("$%.5f", x)
	}
	return fmt.Sprintf("$%.4f", x)
}

func ratio(x float64) string {
	if x == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f×", x)
}

func dur(s float64) string {
	d := time.Duration(s * float64(time.Second))
	switch {
	case d >= time.Hour:
		return fmt.Sprintf("%dh%02dm%02ds", int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60)
	case d >= time.Minute:
		return fmt.Sprintf("%dm%04.1fs", int(d.Minutes()), s-60*float64(int(d.Minutes())))
	}
	return fmt.Sprintf("%.2fs", s)
}

// printConvert prints the conversion section.
func printConvert(w io.Writer, cr *ConvertResults) {
	fmt.Fprintf(w, "\n== 1. Conversion: one part, %d rows × %d columns, gzip %s (CSV %s) ==\n", cr.Rows, cr.Columns, humanBytes(cr.GzipBytes), humanBytes(cr.CSVBytes))
	if cr.DuckDBThreads > 0 {
		fmt.Fprintf(w, "DuckDB threads=%d, memory_limit=%s (its default)\n", cr.DuckDBThreads, cr.DuckDBMemLimit)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "ENGINE\tWALL\tCPU\tPEAK RSS\tGZ MB/s\tCSV MB/s\t/ DuckDB\t/ pgzip\t/ gzip -dc\tOUTPUT\tFILES\t")
	for _, e := range cr.Engines {
		out, files := "-", "-"
		if e.Files > 0 {
			out, files = humanBytes(e.OutputBytes), fmt.Sprint(e.Files)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.1f\t%.1f\t%s\t%s\t%s\t%s\t%s\t\n", e.Name, dur(e.WallSeconds), dur(e.CPUSeconds), humanBytes(e.PeakRSS),
			e.GzipMBps, e.CSVMBps, ratio(e.VsDuckDB), ratio(e.VsPgzip), ratio(e.VsGzip), out, files)
	}
	tw.Flush()
	fmt.Fprintf(w, "(%s)\n", cr.Note)
	if line := cliSummary(cr); line != "" {
		fmt.Fprintln(w, line)
	}
}

// cliSummary is the line on the convert command as a user runs it: its
// ratios to the baselines measured in the same run, by wall and by CPU
// time, and its peak RSS ("" when it was not measured).
func cliSummary(cr *ConvertResults) string {
	e := cr.engine(cliKey)
	if e == nil {
		return ""
	}
	return fmt.Sprintf("tierflow convert (CLI, %d workers): wall %s = %s DuckDB COPY, %s pgzip, %s gzip -dc; CPU %s = %s DuckDB's, %s pgzip's; peak RSS %s (ru_maxrss %s)",
		e.Workers, dur(e.WallSeconds), ratio(e.VsDuckDB), ratio(e.VsPgzip), ratio(e.VsGzip),
		dur(e.CPUSeconds), ratio(e.CPUVsDuckDB), ratio(e.CPUVsPgzip), humanBytes(e.PeakRSS), humanBytes(e.RusageMaxRSS))
}

// printQueries prints the queries section, one table per query.
func printQueries(w io.Writer, qr *QueryResults) {
	fmt.Fprintf(w, "\n== 2. The case study's queries: %d rows in %d part(s), DuckDB threads=%d memory_limit=%s ==\n", qr.Rows, qr.Parts, qr.DuckDBThreads, qr.DuckDBMemLimit)
	for _, l := range qr.Layouts {
		fmt.Fprintf(w, "  %-9s %s: %d file(s), %s\n", l.Key, l.Name, l.Files, humanBytes(l.Bytes))
	}
	for _, q := range qr.Queries {
		fmt.Fprintf(w, "\n%s\n", q.SQL)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "LAYOUT\tRESULT\tTIME (DuckDB)\tSCANNED (Athena)\tCOST\tPROJECTED SCANNED @%dM\tPROJECTED COST\tPAGE INDEX\tPROJECTED\tOF GZ\tSTUDY TIME\tSTUDY SCANNED\tSTUDY COST\t\n", qr.ScaleRows/1_000_000)
		for _, c := range qr.Cells {
			if c.Query != q.Key {
				continue
			}
			st, ss, sc := "-", "-", "-"
			if f := c.CaseStudy; f != nil {
				st, ss, sc = dur(f.Seconds), f.Scanned, usd(f.USD)
			}
			ofGz := "-"
			if gz := gzScanned(qr, q.Key); gz > 0 {
				ofGz = fmt.Sprintf("%.2f %%", 100*float64(c.ScannedPages)/float64(gz))
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", c.Layout, c.Result, dur(c.WallSeconds), humanBytes(c.Scanned), usd(c.USD),
				humanBytes(c.ProjectedScanned), usd(c.ProjectedUSD), humanBytes(c.ScannedPages), humanBytes(c.ProjectedScannedPages), ofGz, st, ss, sc)
		}
		tw.Flush()
	}
	for _, n := range qr.Notes {
		fmt.Fprintf(w, "- %s\n", n)
	}
}

// gzScanned is what query q scans on the gz CSV layout (0: not run).
func gzScanned(qr *QueryResults, q string) int64 {
	for _, c := range qr.Cells {
		if c.Query == q && c.Layout == LayoutCSV {
			return c.Scanned
		}
	}
	return 0
}

// printAthena prints section 3.
func printAthena(w io.Writer, ar *AthenaResults) {
	fmt.Fprintf(w, "\n== 3. Conversion of the case study's month: Athena CTAS vs tierflow (%s) ==\n", ar.Mode)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "WHAT\tWALL\tSCANNED\tCOST\t")
	var total, totalUSD float64
	for _, c := range ar.CaseStudy {
		note := ""
		if !c.USDPrinted {
			note = " (computed)"
		}
		fmt.Fprintf(tw, "case study: %s\t%s\t%s\t%s%s\t\n", c.Name, dur(c.Seconds), c.Scanned, usd(c.USD), note)
		total += c.Seconds
		totalUSD += c.USD
	}
	fmt.Fprintf(tw, "case study: gz CSV → bucketed Parquet, both steps\t%s\t\t%s\t\n", dur(total), usd(totalUSD))
	if m := ar.Measured; m != nil {
		for _, s := range append(append([]AthenaStep{}, m.CTAS...), m.Checksums...) {
			fmt.Fprintf(tw, "measured: %s\t%s\t%s\t%s\t\n", s.Name, dur(s.Seconds), humanBytes(s.ScannedBytes), usd(s.USD))
		}
		if m.TierflowSeconds > 0 {
			fmt.Fprintf(tw, "measured: tierflow conversion\t%s\t0\t%s\t\n", dur(m.TierflowSeconds), usd(m.TierflowUSD))
		}
	}
	if p := ar.Projection; p != nil {
		fmt.Fprintf(tw, "PROJECTED: tierflow on Fargate, %d tasks of %.0f vCPU/%.0f GB\t%s\t0 (no Athena)\t%s\t\n", p.Parts, p.Task.VCPU, p.Task.MemoryGB, dur(p.WallSeconds), usd(p.USD))
		fmt.Fprintf(tw, "PROJECTED, conservative (no faster than this machine)\t%s\t0\t%s\t\n", dur(p.ConservativeWallSeconds), usd(p.ConservativeUSD))
	}
	tw.Flush()
	if m := ar.Measured; m != nil {
		fmt.Fprintf(w, "rows: %d in all three tables; %d column checksums equal: %v\n", m.Rows, m.Columns, m.Equal)
	}
	if p := ar.Projection; p != nil {
		for _, l := range modelLines(p) {
			fmt.Fprintf(w, "model: %s\n", l)
		}
		fmt.Fprintf(w, "       %d parts of %s, %d in parallel, %s per part + %.0f s start; measured: %s\n",
			p.Parts, humanBytes(p.PartBytes), p.Tasks, dur(p.PartSeconds), p.Task.StartupSeconds, p.MeasuredOn)
		fmt.Fprintf(w, "prices: $%.5f per vCPU-hour, $%.6f per GB-hour (%s)\n", p.VCPUHourUSD, p.GBHourUSD, "us-east-1 Linux/x86")
	}
}

// modelLines explains a projection's rates, one line per pass (or one line
// for the fallback), for the console and the markdown.
func modelLines(p *FargateProjection) []string {
	if p.Model != "two-pass" {
		return []string{
			fmt.Sprintf("a task converts at min(%g vCPU × %.1f MB/s per core, %.1f MB/s one-stream decompression) = %.1f MB/s gzip, bound by %s; %.1f of %g vCPU busy",
				p.Task.VCPU, p.PerCoreMBps, p.DecompressMBps, p.TaskMBps, p.Bound, p.BusyVCPU, p.Task.VCPU),
		}
	}
	serial := "unknown"
	if p.Pass1SerialMBps > 0 {
		serial = fmt.Sprintf("%.1f MB/s", p.Pass1SerialMBps)
	}
	busy1 := "pass-1 CPU not measured (mostly one core)"
	overall := fmt.Sprintf("overall %.1f MB/s gzip; %.1f of %g vCPU busy in pass 2, fewer in pass 1", p.TaskMBps, p.BusyVCPU, p.Task.VCPU)
	if p.Pass1BusyVCPU > 0 {
		busy1 = fmt.Sprintf("%.1f vCPU busy", p.Pass1BusyVCPU)
		overall = fmt.Sprintf("overall %.1f MB/s gzip, %.1f of %g vCPU busy on average over both passes", p.TaskMBps, p.BusyVCPU, p.Task.VCPU)
	}
	return []string{
		fmt.Sprintf("pass 1 (read, decompress, route, spill) at min(%.1f MB/s one-stream decompression, %s serial accumulator, %g vCPU × %.1f MB/s per core) = %.1f MB/s gzip, bound by %s: %s per part, %s",
			p.DecompressMBps, serial, p.Task.VCPU, p.Pass1PerCoreMBps, p.Pass1MBps, p.Pass1Bound, dur(p.Pass1PartSeconds), busy1),
		fmt.Sprintf("then pass 2 (per bucket: merge, convert, encode) at min(%g vCPU, %d buckets) × %.1f MB/s per core = %.1f MB/s gzip: %s per part",
			p.Task.VCPU, caseBuckets, p.Pass2PerCoreMBps, p.Pass2MBps, dur(p.Pass2PartSeconds)),
		overall,
	}
}

// writeMarkdown renders the whole report.
func writeMarkdown(w io.Writer, r *Results) {
	fmt.Fprintf(w, "# tierflow benchmark report\n\n")
	fmt.Fprintf(w, "%s — %d rows × %s, %d run(s) per figure (medians), %s/%s, %d CPUs (%s), %s, load %.2f at start; took %s.\n\n",
		r.Started.Format(time.RFC3339), r.Rows, "406 columns", r.Runs, r.Host.OS, r.Host.Arch, r.Host.CPUs, r.Host.CPUModel, r.Host.GoVersion, r.Host.Load1, dur(r.Seconds))
	fmt.Fprintf(w, "Sizes are binary (KiB, MiB, GiB = 2^10, 2^20, 2^30 bytes): Athena's console and the case study print these as KB, MB, GB. Athena costs $%g per TB of 2^40 bytes, rounded up to the MB, %d MB minimum per query.\n\n", runner.AthenaUSDPerTB, runner.AthenaMinBytesPerQuery>>20)
	for _, wn := range r.Warnings {
		fmt.Fprintf(w, "> warning: %s\n\n", wn)
	}
	if cr := r.Convert; cr != nil {
		fmt.Fprintf(w, "## 1. Conversion\n\nOne part: %d rows × %d columns, gzip %s, CSV %s. Each engine ran in its own child process; CPU = user+sys from the child's rusage, peak RSS = the child's VmHWM. DuckDB: threads=%d, memory_limit=%s (default).\n\n",
			cr.Rows, cr.Columns, humanBytes(cr.GzipBytes), humanBytes(cr.CSVBytes), cr.DuckDBThreads, cr.DuckDBMemLimit)
		fmt.Fprintln(w, "| engine | wall | CPU | peak RSS | gzip MB/s | CSV MB/s | wall / DuckDB | wall / pgzip | wall / gzip -dc | output | files |")
		fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
		for _, e := range cr.Engines {
			out, files := "-", "-"
			if e.Files > 0 {
				out, files = humanBytes(e.OutputBytes), fmt.Sprint(e.Files)
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s | %.1f | %.1f | %s | %s | %s | %s | %s |\n", e.Name, dur(e.WallSeconds), dur(e.CPUSeconds), humanBytes(e.PeakRSS),
				e.GzipMBps, e.CSVMBps, ratio(e.VsDuckDB), ratio(e.VsPgzip), ratio(e.VsGzip), out, files)
		}
		if line := cliSummary(cr); line != "" {
			fmt.Fprintf(w, "\n%s.\n", line)
		}
		fmt.Fprintln(w, "\nCommands:")
		fmt.Fprintln(w)
		for _, e := range cr.Engines {
			fmt.Fprintf(w, "- %s: `%s`\n", e.Name, e.Command)
		}
		fmt.Fprintln(w, "\n![conversion wall time](convert.png)")
		fmt.Fprintln(w)
	}
	if qr := r.Queries; qr != nil {
		fmt.Fprintf(w, "## 2. The case study's queries\n\n%d rows in %d part(s). DuckDB threads=%d, memory_limit=%s.\n\n", qr.Rows, qr.Parts, qr.DuckDBThreads, qr.DuckDBMemLimit)
		fmt.Fprintln(w, "| layout | how | files | bytes |")
		fmt.Fprintln(w, "|---|---|--:|--:|")
		for _, l := range qr.Layouts {
			fmt.Fprintf(w, "| %s | %s | %d | %s |\n", l.Name, l.How, l.Files, humanBytes(l.Bytes))
		}
		for _, q := range qr.Queries {
			fmt.Fprintf(w, "\n`%s`\n\n", q.SQL)
			fmt.Fprintf(w, "| layout | result | time (DuckDB, %d rows) | scanned (Athena model) | cost | **projected** scanned at %d rows | **projected** cost | case study time | case study scanned | case study cost |\n", qr.Rows, qr.ScaleRows)
			fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
			for _, c := range qr.Cells {
				if c.Query != q.Key {
					continue
				}
				st, ss, sc := "-", "-", "-"
				if f := c.CaseStudy; f != nil {
					st, ss, sc = dur(f.Seconds), f.Scanned, usd(f.USD)
					if f.Note != "" {
						sc += " (" + f.Note + ")"
					}
				}
				fmt.Fprintf(w, "| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s |\n", c.Layout, c.Result, dur(c.WallSeconds), humanBytes(c.Scanned), usd(c.USD),
					humanBytes(c.ProjectedScanned), usd(c.ProjectedUSD), st, ss, sc)
			}
		}
		fmt.Fprintln(w)
		for _, n := range qr.Notes {
			fmt.Fprintf(w, "- %s\n", n)
		}
		fmt.Fprintln(w, "\n![bytes scanned per layout](scanned.png)")
		fmt.Fprintln(w)
	}
	if ar := r.Athena; ar != nil {
		fmt.Fprintf(w, "## 3. Converting the case study's month: Athena CTAS vs tierflow (%s)\n\n", ar.Mode)
		fmt.Fprintln(w, "| what | wall | scanned | cost |")
		fmt.Fprintln(w, "|---|--:|--:|--:|")
		for _, c := range ar.CaseStudy {
			note := ""
			if !c.USDPrinted {
				note = " (computed from the bytes)"
			}
			fmt.Fprintf(w, "| case study: %s | %s | %s | %s%s |\n", c.Name, dur(c.Seconds), c.Scanned, usd(c.USD), note)
		}
		if m := ar.Measured; m != nil {
			for _, s := range append(append([]AthenaStep{}, m.CTAS...), m.Checksums...) {
				fmt.Fprintf(w, "| measured: %s | %s | %s | %s |\n", s.Name, dur(s.Seconds), humanBytes(s.ScannedBytes), usd(s.USD))
			}
			if m.TierflowSeconds > 0 {
				fmt.Fprintf(w, "| measured: tierflow conversion | %s | 0 | %s |\n", dur(m.TierflowSeconds), usd(m.TierflowUSD))
			}
		}
		if p := ar.Projection; p != nil {
			fmt.Fprintf(w, "| **projected**: tierflow, %d Fargate tasks of %.0f vCPU / %.0f GB | %s | 0 | %s |\n", p.Parts, p.Task.VCPU, p.Task.MemoryGB, dur(p.WallSeconds), usd(p.USD))
			fmt.Fprintf(w, "| **projected**, conservative: no faster than this machine | %s | 0 | %s |\n", dur(p.ConservativeWallSeconds), usd(p.ConservativeUSD))
			fmt.Fprintf(w, "\nModel (%s): %s. %d parts of %s, %d at once, %s per part plus %.0f s start. Measured: %s.\n\n",
				p.Model, strings.Join(modelLines(p), "; "), p.Parts, humanBytes(p.PartBytes), p.Tasks, dur(p.PartSeconds), p.Task.StartupSeconds, p.MeasuredOn)
			fmt.Fprintf(w, "Prices: %s.\n\n", p.PriceSource)
			for _, a := range p.Assumptions {
				fmt.Fprintf(w, "- %s\n", a)
			}
		}
		if m := ar.Measured; m != nil {
			fmt.Fprintf(w, "\nRows: %d in each table; all %d column checksums equal: %v.\n", m.Rows, m.Columns, m.Equal)
		}
	}
}
