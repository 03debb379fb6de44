package synth

import (
	"strings"

	"github.com/tierflow/tierflow/jobs"
)

// attrGen appends one attribute value (or nothing, for an empty field).
type attrGen func(b []byte, r *rng) []byte

// flagPrefixes mark Y/N indicator columns of the consumer header.
var flagPrefixes = []string{"interest", "mailorder", "mail_order", "buyer", "donor", "owns", "socialmedia", "reads",
	"listens", "household_member", "presence_of", "creditcard", "investment", "has", "c_", "bankruptcy"}

var flagNames = []string{"homeinternet", "fiberinternet", "streamingsubscriber", "cordcutter", "satellitetv",
	"earlyadopter", "pool", "fireplace", "airconditioning"}

var vocabByName = map[string][]string{
	"heatingtype": heatingTypes, "rooftype": roofTypes, "exteriorwall": exteriorWalls, "garagetype": garageTypes,
	"propertytype": propertyTypes, "mortgagelendertype": lenderTypes, "interestratetype": rateTypes,
}

// attrCol is one attribute column being given its generator: its name,
// and how an empty field of it is written.
type attrCol struct {
	g       *generator
	name    string
	nullRep []byte
	pEmpty  float64
}

// attrFor chooses how column i is filled from its name and type. tr draws
// the column's own distribution parameters, so that columns differ.
func (g *generator) attrFor(i int, c jobs.Column, tr *rng) attrGen {
	a := attrCol{g: g, name: c.Name, nullRep: g.nullRep[i], pEmpty: emptyFraction}
	if a.nullRep == nil {
		a.pEmpty = 0
	}
	switch c.Type.Kind {
	case jobs.String:
		return a.stringAttr(tr)
	case jobs.Int:
		return a.intAttr()
	case jobs.Bigint:
		return a.intRange(1, 1e12, 1)
	case jobs.Double:
		return a.wrap(func(b []byte, r *rng) []byte { return appendFixed(b, r.between(0, 10_000_000), 4) })
	case jobs.Decimal:
		return a.decimalAttr(c.Type.Precision, c.Type.Scale)
	case jobs.Boolean:
		return a.wrap(func(b []byte, r *rng) []byte {
			if r.chance(0.5) {
				return append(b, "true"...)
			}
			return append(b, "false"...)
		})
	case jobs.Date:
		return a.wrap(func(b []byte, r *rng) []byte {
			y := int(r.between(1990, int64(g.monthY-1)))
			m := r.intn(12) + 1
			return appendDate(b, y, m, r.intn(daysIn(y, m))+1)
		})
	case jobs.Timestamp:
		return a.wrap(func(b []byte, r *rng) []byte { return g.appendTimestamp(b, r, 36, 0) })
	}
	return a.wrap(func(b []byte, r *rng) []byte { return append(b, 'X') })
}

// wrap leaves the field empty (or NULL) with probability pEmpty.
func (a attrCol) wrap(gen attrGen) attrGen {
	return func(b []byte, r *rng) []byte {
		if r.chance(a.pEmpty) {
			return append(b, a.nullRep...)
		}
		return gen(b, r)
	}
}

// vocab draws a word of list.
func (a attrCol) vocab(list []string) attrGen {
	rendered := renderAll(list, a.g.delim)
	return a.wrap(func(b []byte, r *rng) []byte { return append(b, rendered[r.intn(len(rendered))]...) })
}

// intRange draws a multiple of step in [lo, hi].
func (a attrCol) intRange(lo, hi, step int64) attrGen {
	return a.wrap(func(b []byte, r *rng) []byte { return appendFixed(b, r.between(lo/step, hi/step)*step, 0) })
}

// has reports whether the column's name contains one of subs.
func (a attrCol) has(subs ...string) bool {
	for _, s := range subs {
		if strings.Contains(a.name, s) {
			return true
		}
	}
	return false
}

// stringAttr: Y/N flags, vocabularies and codes, by name.
func (a attrCol) stringAttr(tr *rng) attrGen {
	name := a.name
	switch {
	case hasPrefix(name, flagPrefixes) || a.has("owner") || contains(flagNames, name):
		pY := 0.1 + 0.6*float64(tr.intn(1000))/1000 // how common the trait is
		return a.wrap(func(b []byte, r *rng) []byte {
			if r.chance(pY) {
				return append(b, 'Y')
			}
			return append(b, 'N')
		})
	case strings.HasPrefix(name, "recency"):
		return a.vocab([]string{"1", "2", "3", "4", "5", "6"})
	case strings.HasPrefix(name, "vehiclemake"):
		return a.vocab(vehicleMakes)
	case strings.HasPrefix(name, "vehiclemodel"):
		return a.vocab(vehicleModels)
	case strings.HasPrefix(name, "vehicleclass"):
		return a.vocab(vehicleClasses)
	case strings.HasPrefix(name, "vehiclefuel"):
		return a.vocab(vehicleFuels)
	case vocabByName[name] != nil:
		return a.vocab(vocabByName[name])
	case a.has("segment", "cluster", "group", "mosaic", "code"):
		return a.wrap(func(b []byte, r *rng) []byte {
			b = append(b, codeLetters[r.intn(len(codeLetters))]...)
			return appendPad(b, r.between(1, 19), 2)
		})
	}
	return a.vocab(codeLetters)
}

// intAttr: scores, years, counts, sizes and amounts, by name.
func (a attrCol) intAttr() attrGen {
	switch {
	case a.has("propensity", "score"):
		return a.intRange(1, 99, 1)
	case a.has("year"):
		return a.intRange(1985, int64(a.g.monthY), 1)
	case a.has("count", "number"):
		return a.wrap(func(b []byte, r *rng) []byte {
			n := int64(0) // geometric: most households buy rarely
			for n < 12 && r.chance(0.45) {
				n++
			}
			return appendFixed(b, n, 0)
		})
	case a.has("squarefeet", "sqft") && a.has("lot"):
		return a.intRange(1000, 87120, 10)
	case a.has("squarefeet", "sqft"):
		return a.intRange(600, 6000, 10)
	case a.has("bedrooms"):
		return a.intRange(1, 6, 1)
	case a.has("stories"):
		return a.intRange(1, 3, 1)
	case a.has("loantovalue"):
		return a.intRange(10, 100, 1)
	case a.has("amount", "equity", "value", "price"):
		return a.intRange(0, 900000, 1000)
	}
	return a.intRange(0, 100, 1)
}

// decimalAttr: up to 3 integer digits (within the precision p) and up to 6
// random decimals, padded with zeros to the scale sc; bathrooms by halves.
func (a attrCol) decimalAttr(p, sc int) attrGen {
	wholeMax := int64(0)
	for range min(p-sc, 3) {
		wholeMax = wholeMax*10 + 9
	}
	frac := min(sc, 6)
	fracMax := int64(1)
	for range frac {
		fracMax *= 10
	}
	if a.has("bathroom") && sc >= 1 && p-sc >= 1 {
		return a.wrap(func(b []byte, r *rng) []byte {
			half := r.between(2, 9) // 1.0 .. 4.5 by halves
			b = appendFixed(b, half/2, 0)
			b = append(b, '.')
			if half%2 == 1 {
				b = append(b, '5')
			} else {
				b = append(b, '0')
			}
			for range sc - 1 {
				b = append(b, '0')
			}
			return b
		})
	}
	return a.wrap(func(b []byte, r *rng) []byte {
		b = appendFixed(b, r.between(0, wholeMax), 0)
		if sc == 0 {
			return b
		}
		b = append(b, '.')
		b = appendPad(b, r.between(0, fracMax-1), frac)
		for range sc - frac {
			b = append(b, '0')
		}
		return b
	})
}

func hasPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// appendTimestamp appends "YYYY-MM-DD hh:mm:ss" within the monthsBack
// months before the file month; with probability midnight the time is
// 00:00:00 (batch updates carry the date only).
func (g *generator) appendTimestamp(b []byte, r *rng, monthsBack int, midnight float64) []byte {
	back := r.intn(monthsBack) + 1
	y, m := g.monthY, g.monthM-back
	for m < 1 {
		m += 12
		y--
	}
	b = appendDate(b, y, m, r.intn(daysIn(y, m))+1)
	if r.chance(midnight) {
		return append(b, " 00:00:00"...)
	}
	b = append(b, ' ')
	b = appendPad(b, int64(r.intn(24)), 2)
	b = append(b, ':')
	b = appendPad(b, int64(r.intn(60)), 2)
	b = append(b, ':')
	return appendPad(b, int64(r.intn(60)), 2)
}
