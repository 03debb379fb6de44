package synth

import (
	"fmt"
	"math"
	"strings"

	"github.com/tierflow/tierflow/jobs"
)

// coreKind names a consumer-header column the generator fills with
// correlated, realistic values (state ↔ zip ↔ city ↔ area code, birth
// date ↔ age, names ↔ e-mail). Every other column is an attribute. The
// order groups them: appendCore dispatches by ranges (person, street,
// place, contact, wealth, profile).
type coreKind uint8

const (
	cAttr coreKind = iota
	cHouseholdID
	cPersonID
	cAddressID
	cSeq
	cNamePrefix
	cFirstName
	cMiddleName
	cLastName
	cNameSuffix
	cGender
	cBirthDate
	cAge
	cHouseNumber
	cPreDirection
	cStreetName
	cStreetSuffix
	cPostDirection
	cUnitType
	cUnitNumber
	cAddressLine2
	cCity
	cState
	cZip
	cZip4
	cCarrierRoute
	cDeliveryPoint
	cCountyFIPS
	cCountyName
	cCBSA
	cCensusTract
	cCensusBlockGroup
	cLatitude
	cLongitude
	cHomePhone
	cWirelessPhone
	cDoNotCall
	cEmail
	cEmailOptIn
	cIncome
	cNetWorth
	cHomeValue
	cHomePurchaseDate
	cHomePurchasePrice
	cLengthOfResidence
	cHomeOwner
	cMarital
	cEducation
	cOccupation
	cEthnicity
	cLanguage
	cReligion
	cParty
	cDwelling
	cChildren
	cPresenceOfChildren
	cAdults
	cCreditRating
	cVerifiedDate
	cLastUpdated
)

// natural is the value class a core kind produces; a column declared with
// another type (other than string, which takes anything) is treated as an
// attribute so that every value still parses as its declared type.
type natural uint8

const (
	nText natural = iota
	nInt          // fits int32
	nDouble
	nBool
	nDate
	nTimestamp
)

var coreByName = map[string]struct {
	kind coreKind
	nat  natural
}{
	"householdid": {cHouseholdID, nInt}, "personid": {cPersonID, nInt}, "addressid": {cAddressID, nInt},
	"individualsequence": {cSeq, nInt}, "nameprefix": {cNamePrefix, nText}, "firstname": {cFirstName, nText},
	"middlename": {cMiddleName, nText}, "lastname": {cLastName, nText}, "namesuffix": {cNameSuffix, nText},
	"gender": {cGender, nText}, "birthdate": {cBirthDate, nDate}, "age": {cAge, nInt},
	"housenumber": {cHouseNumber, nText}, "predirection": {cPreDirection, nText}, "streetname": {cStreetName, nText},
	"streetsuffix": {cStreetSuffix, nText}, "postdirection": {cPostDirection, nText}, "unittype": {cUnitType, nText},
	"unitnumber": {cUnitNumber, nText}, "addressline2": {cAddressLine2, nText}, "city": {cCity, nText},
	"state": {cState, nText}, "zipcode": {cZip, nText}, "zip4": {cZip4, nText}, "carrierroute": {cCarrierRoute, nText},
	"deliverypointcode": {cDeliveryPoint, nText}, "countyfips": {cCountyFIPS, nText}, "countyname": {cCountyName, nText},
	"cbsacode": {cCBSA, nText}, "censustract": {cCensusTract, nText}, "censusblockgroup": {cCensusBlockGroup, nText},
	"latitude": {cLatitude, nDouble}, "longitude": {cLongitude, nDouble}, "homephone": {cHomePhone, nText},
	"wirelessphone": {cWirelessPhone, nText}, "donotcallflag": {cDoNotCall, nBool}, "email": {cEmail, nText},
	"emailoptin": {cEmailOptIn, nBool}, "householdincome": {cIncome, nInt}, "networth": {cNetWorth, nInt},
	"homevalue": {cHomeValue, nInt}, "homepurchasedate": {cHomePurchaseDate, nDate},
	"homepurchaseprice": {cHomePurchasePrice, nInt}, "lengthofresidence": {cLengthOfResidence, nInt},
	"homeowner": {cHomeOwner, nBool}, "maritalstatus": {cMarital, nText}, "education": {cEducation, nText},
	"occupation": {cOccupation, nText}, "ethnicity": {cEthnicity, nText}, "language": {cLanguage, nText},
	"religion": {cReligion, nText}, "politicalparty": {cParty, nText}, "dwellingtype": {cDwelling, nText},
	"numberofchildren": {cChildren, nInt}, "presenceofchildren": {cPresenceOfChildren, nBool},
	"numberofadults": {cAdults, nInt}, "creditrating": {cCreditRating, nText},
	"addressverifieddate": {cVerifiedDate, nDate}, "lastupdated": {cLastUpdated, nTimestamp},
}

func fits(nat natural, t jobs.Type) bool {
	switch t.Kind {
	case jobs.String:
		return true
	case jobs.Int, jobs.Bigint:
		return nat == nInt
	case jobs.Double:
		return nat == nDouble
	case jobs.Boolean:
		return nat == nBool
	case jobs.Date:
		return nat == nDate
	case jobs.Timestamp:
		return nat == nTimestamp
	}
	return false
}

// Tuning of the attribute templates. Attributes are written in blocks of up
// to blockCols adjacent columns; each block of a row is spliced, at a random
// field, from two of blockTemplates pre-rendered variants chosen with a
// Zipf(templateSkew) law. Vendor attributes are model outputs and strongly
// correlated, which is what lets the real file compress ≈7×; these numbers
// set that ratio (measured on the consumer header: ≈1.13 KB per row, ≈6.7×
// with gzip -6; independent per-field draws would give ≈4.5×). The price is
// that a column takes at most blockTemplates distinct values.
const (
	blockCols      = 128
	blockTemplates = 24
	templateSkew   = 1.8
	emptyFraction  = 0.30 // attribute fields left empty (NULL)
)

type segment struct {
	kind  coreKind // cAttr: a template block
	col   int      // first column
	block int      // index into blocks when kind == cAttr
}

type block struct {
	first, n int
	tmpl     [][]byte  // rendered variants: n fields joined by the delimiter
	offs     [][]int32 // per variant: start of each field, then len
}

type renderedState struct {
	code, fips []byte
	cities     [][]byte
	areas      [][]byte
	zips       [][2]int
	zipSpan    int
	lat, lon   int64 // micro-degrees
	military   bool
}

// generator holds everything derived from the spec and options; it is
// read-only once built and shared by the parts written in parallel.
type generator struct {
	spec     *jobs.Spec
	opts     Options
	seed     uint64
	delim    byte
	eol      []byte
	header   []byte
	ncols    int
	segs     []segment
	blocks   []block
	pick     []uint16 // 65536 entries: template index by 16 random bits
	nullRep  [][]byte // per column: text of NULL; nil if the column is never NULL
	monthY   int
	monthM   int
	badInt   []int // candidate columns for BadInt
	badDate  []int
	nlCol    int // column that may span lines, -1 if none
	badLimit uint64

	stateTable                                        []uint8 // 65536 entries: state index by 16 random bits
	states                                            []renderedState
	male, female, last, lastJr, nick, suffixes        [][]byte
	emailMale, emailFemale, emailLast, domains        [][]byte
	streets, streetSfx, dirs, units, line2, multiLine [][]byte
	counties, marital, educ, occup, ethnic, lang      [][]byte
	relig, party, dwelling, credit                    [][]byte
}

// render quotes s for CSV when it holds the delimiter, a quote or a line
// break (RFC 4180).
func render(s string, delim byte) []byte {
	if !strings.ContainsAny(s, string([]byte{delim, '"', '\n', '\r'})) {
		return []byte(s)
	}
	return []byte(`"` + strings.ReplaceAll(s, `"`, `""`) + `"`)
}

func renderAll(list []string, delim byte) [][]byte {
	out := make([][]byte, len(list))
	for i, s := range list {
		out[i] = render(s, delim)
	}
	return out
}

// emailPart folds a name to lowercase ASCII letters for an address.
func emailPart(s string) []byte {
	var b []byte
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z':
			b = append(b, byte(r))
		case strings.ContainsRune("àáâãäå", r):
			b = append(b, 'a')
		case strings.ContainsRune("èéêë", r):
			b = append(b, 'e')
		case strings.ContainsRune("ìíîï", r):
			b = append(b, 'i')
		case strings.ContainsRune("òóôõöø", r):
			b = append(b, 'o')
		case strings.ContainsRune("ùúûü", r):
			b = append(b, 'u')
		case r == 'ñ':
			b = append(b, 'n')
		}
	}
	return b
}

func newGenerator(spec *jobs.Spec, opts Options) (*generator, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	if spec == nil || len(spec.Schema.Columns) == 0 {
		return nil, fmt.Errorf("synth: the job spec has no columns")
	}
	month, _ := jobs.ParseMonth(opts.Month)
	delim := spec.Source.Delimiter
	if delim == 0 {
		delim = ','
	}
	if delim >= '0' && delim <= '9' || delim >= 'A' && delim <= 'Z' || delim >= 'a' && delim <= 'z' || strings.IndexByte("-.:@/+ ", delim) >= 0 || delim == '"' || delim == '\n' || delim == '\r' {
		return nil, fmt.Errorf("synth: delimiter %q appears inside generated numbers, dates or e-mails", delim)
	}
	g := &generator{
		spec:   spec,
		opts:   opts,
		seed:   uint64(opts.Seed),
		delim:  delim,
		eol:    []byte("\n"),
		ncols:  len(spec.Schema.Columns),
		monthY: month.Year(),
		monthM: int(month.Month()),
		nlCol:  -1,
	}
	if opts.CRLF {
		g.eol = []byte("\r\n")
	}
	switch {
	case opts.BadRowFraction >= 1:
		g.badLimit = math.MaxUint64
	case opts.BadRowFraction > 0:
		g.badLimit = uint64(opts.BadRowFraction * (1 << 64))
	}

	// Header: the vendor's agreed sample when there is one.
	header := spec.Source.Header
	if len(header) == 0 {
		header = spec.Schema.Sources()
	}
	if len(header) != g.ncols {
		return nil, fmt.Errorf("synth: the header sample has %d fields but the schema %d columns", len(header), g.ncols)
	}
	for i, h := range header {
		if i > 0 {
			g.header = append(g.header, delim)
		}
		g.header = append(g.header, render(h, delim)...)
	}
	g.header = append(g.header, g.eol...)

	// NULL is the first null marker; columns of other types than string
	// are never NULL when the spec has no marker at all.
	g.nullRep = make([][]byte, g.ncols)
	for i, c := range spec.Schema.Columns {
		switch {
		case c.Type.Kind == jobs.String:
			g.nullRep[i] = []byte{}
		case len(spec.Source.NullMarkers) > 0:
			g.nullRep[i] = render(spec.Source.NullMarkers[0], delim)
		}
	}

	g.renderTables()
	g.plan(spec)
	return g, nil
}

func (g *generator) renderTables() {
	d := g.delim
	g.states = make([]renderedState, len(states))
	total := 0.0
	for _, s := range states {
		if s.code != "CA" {
			total += float64(s.popK)
		}
	}
	g.stateTable = make([]uint8, 1<<16)
	pos, acc := 0, 0.0
	for i, s := range states {
		rs := renderedState{code: []byte(s.code), fips: []byte(s.fips), cities: renderAll(s.cities, d),
			areas: renderAll(s.areas, d), zips: s.zips, lat: int64(s.lat * 1e6), lon: int64(s.lon * 1e6), military: s.fips == ""}
		for _, z := range s.zips {
			rs.zipSpan += z[1] - z[0] + 1
		}
		g.states[i] = rs
		share := float64(s.popK) / total * (1 - caShare)
		if s.code == "CA" {
			share = caShare
		}
		acc += share
		end := int(math.Round(acc * (1 << 16)))
		for ; pos < end && pos < 1<<16; pos++ {
			g.stateTable[pos] = uint8(i)
		}
	}
	for ; pos < 1<<16; pos++ {
		g.stateTable[pos] = uint8(len(states) - 1)
	}

	g.male, g.female, g.last = renderAll(maleNames, d), renderAll(femaleNames, d), renderAll(lastNames, d)
	g.lastJr = make([][]byte, len(lastNames))
	for i, l := range lastNames {
		g.lastJr[i] = render(l+", Jr.", d)
	}
	g.nick, g.suffixes = renderAll(nicknames, d), renderAll(nameSuffixes, d)
	for _, n := range maleNames {
		g.emailMale = append(g.emailMale, emailPart(n))
	}
	for _, n := range femaleNames {
		g.emailFemale = append(g.emailFemale, emailPart(n))
	}
	for _, n := range lastNames {
		g.emailLast = append(g.emailLast, emailPart(n))
	}
	g.domains = renderAll(emailDomains, d)
	g.streets, g.streetSfx, g.dirs = renderAll(streetNames, d), renderAll(streetSuffixes, d), renderAll(directions, d)
	g.units, g.line2, g.multiLine = renderAll(unitTypes, d), renderAll(addressLine2, d), renderAll(multiLine, d)
	g.counties, g.marital, g.educ = renderAll(countyNames, d), renderAll(maritalStatuses, d), renderAll(educations, d)
	g.occup, g.ethnic, g.lang = renderAll(occupations, d), renderAll(ethnicities, d), renderAll(languages, d)
	g.relig, g.party, g.dwelling, g.credit = renderAll(religions, d), renderAll(parties, d), renderAll(dwellingTypes, d), renderAll(creditRatings, d)

	// Zipf law over the template variants.
	g.pick = make([]uint16, 1<<16)
	weights := make([]float64, blockTemplates)
	sum := 0.0
	for k := range weights {
		weights[k] = 1 / math.Pow(float64(k+1), templateSkew)
		sum += weights[k]
	}
	pos, acc = 0, 0
	for k, w := range weights {
		acc += w / sum
		end := int(math.Round(acc * (1 << 16)))
		for ; pos < end && pos < 1<<16; pos++ {
			g.pick[pos] = uint16(k)
		}
	}
}

// plan splits the columns into core columns and template blocks, renders
// the templates and picks the columns that bad rows and multi-line values
// go to.
func (g *generator) plan(spec *jobs.Spec) {
	cols := spec.Schema.Columns
	kinds := make([]coreKind, len(cols))
	for i, c := range cols {
		if k, ok := coreByName[c.Name]; ok && fits(k.nat, c.Type) {
			kinds[i] = k.kind
		}
		switch c.Type.Kind {
		case jobs.Int, jobs.Bigint:
			g.badInt = append(g.badInt, i)
		case jobs.Date:
			g.badDate = append(g.badDate, i)
		}
	}
	for i, c := range cols {
		if kinds[i] == cAddressLine2 {
			g.nlCol = i
		}
		if g.nlCol < 0 && c.Type.Kind == jobs.String && kinds[i] == cAttr {
			g.nlCol = i // fallback: the first string attribute
		}
	}
	if g.nlCol >= 0 && kinds[g.nlCol] == cAttr {
		kinds[g.nlCol] = cAddressLine2
	}

	tr := rng{s: mix(g.seed, saltTemplates, 0)}
	for i := 0; i < len(cols); {
		if kinds[i] != cAttr {
			g.segs = append(g.segs, segment{kind: kinds[i], col: i})
			i++
			continue
		}
		j := i
		for j < len(cols) && kinds[j] == cAttr && j-i < blockCols {
			j++
		}
		gens := make([]attrGen, j-i)
		for k := range gens {
			gens[k] = g.attrFor(i+k, cols[i+k], &tr)
		}
		bl := block{first: i, n: j - i}
		for range blockTemplates {
			var b []byte
			offs := make([]int32, 0, bl.n+1)
			for k, gen := range gens {
				if k > 0 {
					b = append(b, g.delim)
				}
				offs = append(offs, int32(len(b)))
				b = gen(b, &tr)
			}
			offs = append(offs, int32(len(b)))
			bl.tmpl = append(bl.tmpl, b)
			bl.offs = append(bl.offs, offs)
		}
		g.segs = append(g.segs, segment{kind: cAttr, col: i, block: len(g.blocks)})
		g.blocks = append(g.blocks, bl)
		i = j
	}
}
