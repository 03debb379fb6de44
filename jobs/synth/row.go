package synth

// newlineEvery: about one row in newlineEvery has a multi-line AddressLine2.
const newlineEvery = 10000

// person is what one row's columns share: drawn once, up front, from the
// household's stream (so household members agree) and the person's own.
type person struct {
	hr, pr   rng // household and person streams
	hh       int64
	seq      int64
	st       *renderedState
	zip      int
	zh       uint64 // hash of the zip: what is a function of the zip (county, tract, centroid) derives from it
	last     int
	owner    bool
	children int
	gender   byte
	first    int  // i ≥ 0: male name i; i < 0: female name -1-i
	nick     int  // index into nicknames, -1 if none
	jr       bool // LastName written "Smith, Jr."
	by, bm   int
	bd, age  int
}

// household maps a row to its household: 8 rows make 5 households, so
// consecutive rows often share one (1.6 persons per household).
func household(row int64) int64 { return row * 5 / 8 }

func (g *generator) initPerson(p *person, row int64) {
	p.hh = household(row)
	p.seq = row - (p.hh*8+4)/5 + 1
	p.hr = rng{s: mix(g.seed, saltHousehold, p.hh)}
	p.pr = rng{s: mix(g.seed, saltPerson, row)}
	hr, pr := &p.hr, &p.pr

	p.st = &g.states[g.stateTable[hr.u16()]]
	n := hr.intn(p.st.zipSpan)
	for _, z := range p.st.zips {
		if w := z[1] - z[0] + 1; n >= w {
			n -= w
		} else {
			p.zip = z[0] + n
			break
		}
	}
	p.zh = splitmix64(uint64(p.zip) ^ g.seed)
	p.last = hr.intn(len(g.last))
	p.owner = hr.chance(0.65)
	p.children = 0
	for p.children < 6 && hr.chance(0.45) {
		p.children++
	}

	switch v := pr.intn(100); {
	case v < 49:
		p.gender = 'M'
	case v < 98:
		p.gender = 'F'
	default:
		p.gender = 'U'
	}
	if p.gender == 'M' || p.gender == 'U' && pr.chance(0.5) {
		p.first = pr.intn(len(g.male))
	} else {
		p.first = -1 - pr.intn(len(g.female)) // negative: female list
	}
	p.nick = -1
	if pr.chance(0.002) {
		p.nick = pr.intn(len(g.nick))
	}
	p.jr = pr.chance(0.005)
	p.age = 18 + (pr.intn(78)+pr.intn(78))/2
	p.bm = pr.intn(12) + 1
	p.bd = pr.intn(daysIn(2001, p.bm)) + 1 // never Feb 29
	p.by = g.monthY - p.age
	if p.bm > g.monthM || p.bm == g.monthM && p.bd > 1 {
		p.by-- // birthday after the 1st of the file month: age is a year less
	}
}

func (g *generator) firstName(p *person) []byte {
	if p.first >= 0 {
		return g.male[p.first]
	}
	return g.female[-1-p.first]
}

func (g *generator) emailFirst(p *person) []byte {
	if p.first >= 0 {
		return g.emailMale[p.first]
	}
	return g.emailFemale[-1-p.first]
}

func pick(r *rng, list [][]byte) []byte { return list[r.intn(len(list))] }

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, "true"...)
	}
	return append(b, "false"...)
}

// appendRow appends one data record, line terminator included.
func (g *generator) appendRow(b []byte, row int64) []byte {
	var p person
	g.initPerson(&p, row)
	bad := g.badOf(row)
	nl := bad.kind == 0 && g.nlCol >= 0 && mix(g.seed, saltNewline, row)%newlineEvery == 0
	pickR := rng{s: mix(g.seed, saltPick, row)}
	lastStart := 0
	for i := range g.segs {
		s := &g.segs[i]
		if i > 0 {
			b = append(b, g.delim)
		}
		start := len(b)
		if s.kind != cAttr {
			b = g.appendCore(b, s.kind, s.col, &p, row, nl)
			if s.col == bad.col {
				b = append(b[:start], bad.value...)
			}
			lastStart = start
			continue
		}
		bl := &g.blocks[s.block]
		t := g.pick[pickR.u16()]
		tm, offs := bl.tmpl[t], bl.offs[t]
		if k := bad.col - bl.first; k >= 0 && k < bl.n {
			b = append(b, tm[:offs[k]]...)
			b = append(b, bad.value...)
			if k < bl.n-1 {
				b = append(b, tm[offs[k+1]-1:]...) // from the delimiter on
			}
			continue
		}
		if bl.n == 1 {
			b = append(b, tm...)
			lastStart = start
			continue
		}
		// Two variants spliced at a field boundary: K² × n combinations per
		// block for the price of two back-references in gzip.
		t2 := g.pick[pickR.u16()]
		cut := 1 + pickR.intn(bl.n-1)
		tm2, offs2 := bl.tmpl[t2], bl.offs[t2]
		b = append(b, tm[:offs[cut]]...)
		b = append(b, tm2[offs2[cut]:]...)
		lastStart = start + int(offs[cut]) + int(offs2[bl.n-1]-offs2[cut])
	}
	switch bad.kind {
	case BadFieldMissing:
		b = b[:lastStart-1] // drop the delimiter and the last field
	case BadFieldExtra:
		b = append(b, g.delim)
		b = append(b, "EXTRA"...)
	}
	return append(b, g.eol...)
}

// appendCore appends the value of core column col. The kinds are grouped
// as declared (see coreKind); each group has its own function.
func (g *generator) appendCore(b []byte, k coreKind, col int, p *person, row int64, nl bool) []byte {
	null := g.nullRep[col]
	switch {
	case k <= cAge:
		return g.appendPersonCore(b, k, p, row, null)
	case k <= cAddressLine2:
		return g.appendStreetCore(b, k, p, row, nl)
	case k <= cLongitude:
		return g.appendPlaceCore(b, k, p, null)
	case k <= cEmailOptIn:
		return g.appendContactCore(b, k, p)
	case k <= cHomeOwner:
		return g.appendWealthCore(b, k, p, null)
	default:
		return g.appendProfileCore(b, k, p)
	}
}

// appendPersonCore appends a column of the person: ids, name, gender,
// birth date and age (cHouseholdID … cAge).
func (g *generator) appendPersonCore(b []byte, k coreKind, p *person, row int64, null []byte) []byte {
	pr := &p.pr
	switch k {
	case cHouseholdID:
		return appendFixed(b, 100_000_000+p.hh, 0)
	case cPersonID:
		return appendFixed(b, 600_000_000+row, 0)
	case cAddressID:
		return appendFixed(b, 1_100_000_000+p.hh, 0)
	case cSeq:
		return appendFixed(b, p.seq, 0)
	case cNamePrefix:
		switch {
		case pr.chance(0.3):
			return b
		case p.gender == 'M':
			return append(b, "Mr"...)
		case p.gender == 'F' && pr.chance(0.5):
			return append(b, "Mrs"...)
		case p.gender == 'F':
			return append(b, "Ms"...)
		}
		return append(b, "Dr"...)
	case cFirstName:
		if p.nick >= 0 {
			return append(b, g.nick[p.nick]...)
		}
		return append(b, g.firstName(p)...)
	case cMiddleName:
		switch v := pr.intn(10); {
		case v < 5:
			return b
		case v < 8:
			return append(b, "ABCDEFGHIJKLMNOPRSTW"[pr.intn(20)]) // an initial
		case p.first >= 0:
			return append(b, pick(pr, g.male)...)
		}
		return append(b, pick(pr, g.female)...)
	case cLastName:
		if p.jr {
			return append(b, g.lastJr[p.last]...)
		}
		return append(b, g.last[p.last]...)
	case cNameSuffix:
		if pr.chance(0.97) {
			return b
		}
		return append(b, pick(pr, g.suffixes)...)
	case cGender:
		return append(b, p.gender)
	case cBirthDate:
		if pr.chance(0.1) && null != nil {
			return append(b, null...)
		}
		return appendDate(b, p.by, p.bm, p.bd)
	case cAge:
		return appendFixed(b, int64(p.age), 0)
	}
	return b
}

// appendStreetCore appends a column of the street address (cHouseNumber …
// cAddressLine2).
func (g *generator) appendStreetCore(b []byte, k coreKind, p *person, row int64, nl bool) []byte {
	hr := &p.hr
	switch k {
	case cHouseNumber:
		n := hr.between(1, 9999)
		if hr.chance(0.2) {
			n = hr.between(10000, 99999)
		}
		b = appendFixed(b, n, 0)
		if hr.chance(0.01) {
			b = append(b, " 1/2"...)
		}
		return b
	case cPreDirection:
		if hr.chance(0.85) {
			return b
		}
		return append(b, pick(hr, g.dirs)...)
	case cStreetName:
		return append(b, pick(hr, g.streets)...)
	case cStreetSuffix:
		if hr.chance(0.05) {
			return b
		}
		return append(b, pick(hr, g.streetSfx)...)
	case cPostDirection:
		if hr.chance(0.95) {
			return b
		}
		return append(b, pick(hr, g.dirs)...)
	case cUnitType:
		if hr.chance(0.8) {
			return b
		}
		return append(b, pick(hr, g.units)...)
	case cUnitNumber:
		if hr.chance(0.8) {
			return b
		}
		return appendFixed(b, hr.between(1, 999), 0)
	case cAddressLine2:
		v := hr.intn(100) // drawn always, so household members stay in step
		if nl {
			return append(b, g.multiLine[mix(g.seed, saltNewline+1, row)%uint64(len(g.multiLine))]...)
		}
		if v < 97 {
			return b
		}
		return append(b, g.line2[v%len(g.line2)]...)
	}
	return b
}

// appendPlaceCore appends a column of where the address is: city, state,
// zip and what derives from the zip (cCity … cLongitude).
func (g *generator) appendPlaceCore(b []byte, k coreKind, p *person, null []byte) []byte {
	hr := &p.hr
	st := p.st
	switch k {
	case cCity:
		return append(b, pick(hr, st.cities)...)
	case cState:
		return append(b, st.code...)
	case cZip:
		return appendPad(b, int64(p.zip), 5)
	case cZip4:
		if hr.chance(0.1) {
			return b
		}
		return appendPad(b, hr.between(1, 9999), 4)
	case cCarrierRoute:
		b = append(b, "CCCRRHB"[p.zh>>40%7])
		return appendPad(b, int64(p.zh>>44%40)+1, 3)
	case cDeliveryPoint:
		return appendPad(b, hr.between(0, 999), 3)
	case cCountyFIPS:
		if st.military {
			return b
		}
		b = append(b, st.fips...)
		return appendPad(b, int64(p.zh%100)*2+1, 3)
	case cCountyName:
		if st.military {
			return b
		}
		return append(b, g.counties[p.zh>>8%uint64(len(g.counties))]...)
	case cCBSA:
		if st.military || p.zh>>16%5 == 0 {
			return b
		}
		return appendPad(b, int64(p.zh>>20%3957+1018)*10, 5)
	case cCensusTract:
		if st.military {
			return b
		}
		b = appendPad(b, int64(p.zh>>32%9900+100), 4)
		return appendPad(b, hr.between(0, 4)*2, 2)
	case cCensusBlockGroup:
		if st.military {
			return b
		}
		return appendPad(b, hr.between(1, 4), 1)
	case cLatitude, cLongitude:
		// The zip's centroid (within 1.5° of the state's) plus a few
		// hundred metres, with 4 decimals (≈11 m) like most geocoders.
		c, j := st.lat/100, hr.between(-60, 60)
		off := int64(p.zh>>8%30001) - 15000
		if k == cLongitude {
			c, off = st.lon/100, int64(p.zh>>24%30001)-15000
		}
		if st.military && null != nil {
			return append(b, null...)
		}
		return appendFixed(b, c+off+j, 4)
	}
	return b
}

// appendContactCore appends a phone or email column (cHomePhone …
// cEmailOptIn).
func (g *generator) appendContactCore(b []byte, k coreKind, p *person) []byte {
	hr, pr := &p.hr, &p.pr
	st := p.st
	switch k {
	case cHomePhone, cWirelessPhone:
		r, empty := hr, 0.5
		if k == cWirelessPhone {
			r, empty = pr, 0.25
		}
		if r.chance(empty) || len(st.areas) == 0 {
			return b
		}
		b = append(b, pick(r, st.areas)...)
		b = appendFixed(b, r.between(200, 999), 0)
		return appendPad(b, r.between(0, 9999), 4)
	case cDoNotCall:
		return appendBool(b, pr.chance(0.3))
	case cEmail:
		if pr.chance(0.35) {
			return b
		}
		b = append(b, g.emailFirst(p)...)
		if pr.chance(0.5) {
			b = append(b, '.')
		}
		b = append(b, g.emailLast[p.last]...)
		if pr.chance(0.4) {
			b = appendFixed(b, pr.between(1, 99), 0)
		}
		b = append(b, '@')
		return append(b, pick(pr, g.domains)...)
	case cEmailOptIn:
		return appendBool(b, pr.chance(0.6))
	}
	return b
}

// appendWealthCore appends a column of income, wealth and home ownership
// (cIncome … cHomeOwner).
func (g *generator) appendWealthCore(b []byte, k coreKind, p *person, null []byte) []byte {
	hr := &p.hr
	switch k {
	case cIncome:
		// Roughly log-normal: many modest incomes, a long tail.
		v := hr.between(15, 120) * 1000
		if hr.chance(0.15) {
			v = hr.between(120, 750) * 1000
		}
		return appendFixed(b, v, 0)
	case cNetWorth:
		return appendFixed(b, hr.between(-50, 5000)*1000, 0)
	case cHomeValue, cHomePurchasePrice:
		v := hr.between(60, 2500) * 1000
		if !p.owner && null != nil {
			return append(b, null...)
		}
		return appendFixed(b, v, 0)
	case cHomePurchaseDate:
		y := int(hr.between(1975, int64(g.monthY-1)))
		m := hr.intn(12) + 1
		d := hr.intn(daysIn(y, m)) + 1
		if !p.owner && null != nil {
			return append(b, null...)
		}
		return appendDate(b, y, m, d)
	case cLengthOfResidence:
		return appendFixed(b, hr.between(0, 40), 0)
	case cHomeOwner:
		return appendBool(b, p.owner)
	}
	return b
}

// appendProfileCore appends a column of demographics, household make-up
// and record dates (cMarital … cLastUpdated).
func (g *generator) appendProfileCore(b []byte, k coreKind, p *person) []byte {
	hr, pr := &p.hr, &p.pr
	switch k {
	case cMarital:
		if pr.chance(0.2) {
			return b
		}
		return append(b, pick(pr, g.marital)...)
	case cEducation:
		if pr.chance(0.3) {
			return b
		}
		return append(b, pick(pr, g.educ)...)
	case cOccupation:
		if pr.chance(0.4) {
			return b
		}
		return append(b, pick(pr, g.occup)...)
	case cEthnicity:
		if hr.chance(0.2) {
			return b
		}
		return append(b, pick(hr, g.ethnic)...)
	case cLanguage:
		if pr.chance(0.8) {
			return append(b, g.lang[0]...)
		}
		return append(b, pick(pr, g.lang)...)
	case cReligion:
		if hr.chance(0.5) {
			return b
		}
		return append(b, pick(hr, g.relig)...)
	case cParty:
		if pr.chance(0.4) {
			return b
		}
		return append(b, pick(pr, g.party)...)
	case cDwelling:
		return append(b, pick(hr, g.dwelling)...)
	case cChildren:
		return appendFixed(b, int64(p.children), 0)
	case cPresenceOfChildren:
		return appendBool(b, p.children > 0)
	case cAdults:
		return appendFixed(b, hr.between(1, 4), 0)
	case cCreditRating:
		if pr.chance(0.15) {
			return b
		}
		return append(b, pick(pr, g.credit)...)
	case cVerifiedDate:
		y := int(hr.between(int64(g.monthY-3), int64(g.monthY-1)))
		m := hr.intn(12) + 1
		return appendDate(b, y, m, hr.intn(daysIn(y, m))+1)
	case cLastUpdated:
		return g.appendTimestamp(b, pr, 12, 0.8)
	}
	return b
}
