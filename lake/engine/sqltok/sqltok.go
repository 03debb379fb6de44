// Package sqltok splits Trino (Athena) SQL into tokens: enough to find
// table names, a leading WITH clause or a CTAS header without parsing the
// statement. The Athena engine rewrites statements with it and the test
// server reads them back with it.
package sqltok

import (
	"errors"
	"fmt"
	"strings"
)

// ErrUnterminated is returned (wrapped) by Lex for a comment, string
// literal or quoted identifier that runs to the end of the statement; the
// message goes on with what is open and the offset where it opens.
var ErrUnterminated = errors.New("sqltok: unterminated")

// Token kinds.
const (
	Word   byte = 'w' // keyword or bare identifier
	Quoted byte = 'q' // "quoted identifier"
	String byte = 's' // 'string literal'
	Number byte = 'n'
	Punct  byte = 'p' // one punctuation byte
)

// Token is one lexical token.
type Token struct {
	Kind  byte   // Word, Quoted, String, Number or Punct
	Text  string // word, unquoted identifier or string value, or the punctuation
	Start int    // byte offset in the statement
	End   int    // byte offset after the token
}

// Is reports whether t is the keyword word (case-insensitive).
func (t Token) Is(word string) bool { return t.Kind == Word && strings.EqualFold(t.Text, word) }

// Ident reports whether t names something, and its case-folded name
// (Athena identifiers are case-insensitive, quoted or not).
func (t Token) Ident() (string, bool) {
	if t.Kind == Word || t.Kind == Quoted {
		return strings.ToLower(t.Text), true
	}
	return "", false
}

// IsWordByte reports whether c can be part of a bare word.
func IsWordByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

// Lex splits sql into tokens, skipping white space and comments. Doubled
// quotes inside quoted identifiers and strings are unescaped.
func Lex(sql string) ([]Token, error) {
	var out []Token
	for i := 0; i < len(sql); {
		c := sql[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			i++
		case strings.HasPrefix(sql[i:], "--"):
			for i < len(sql) && sql[i] != '\n' {
				i++
			}
		case strings.HasPrefix(sql[i:], "/*"):
			j := strings.Index(sql[i+2:], "*/")
			if j < 0 {
				return nil, fmt.Errorf("%w comment at offset %d", ErrUnterminated, i)
			}
			i += j + 4
		case c == '\'' || c == '"':
			var b strings.Builder
			j := i + 1
			for {
				if j >= len(sql) {
					return nil, fmt.Errorf("%w %c at offset %d", ErrUnterminated, c, i)
				}
				if sql[j] == c {
					if j+1 < len(sql) && sql[j+1] == c {
						b.WriteByte(c)
						j += 2
						continue
					}
					break
				}
				b.WriteByte(sql[j])
				j++
			}
			kind := String
			if c == '"' {
				kind = Quoted
			}
			out = append(out, Token{Kind: kind, Text: b.String(), Start: i, End: j + 1})
			i = j + 1
		case IsWordByte(c) && !(c >= '0' && c <= '9'):
			j := i
			for j < len(sql) && IsWordByte(sql[j]) {
				j++
			}
			out = append(out, Token{Kind: Word, Text: sql[i:j], Start: i, End: j})
			i = j
		case c >= '0' && c <= '9':
			j := i
			for j < len(sql) && (sql[j] >= '0' && sql[j] <= '9' || sql[j] == '.') {
				j++
			}
			out = append(out, Token{Kind: Number, Text: sql[i:j], Start: i, End: j})
			i = j
		default:
			out = append(out, Token{Kind: Punct, Text: string(c), Start: i, End: i + 1})
			i++
		}
	}
	return out, nil
}
