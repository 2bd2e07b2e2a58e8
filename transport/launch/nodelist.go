package launch

import (
	"fmt"
	"strconv"
	"strings"
)

// maxNodelistLen bounds the Slurm node lists FirstNode accepts; real ones
// are far shorter, and a bound keeps a hostile value from costing much.
const maxNodelistLen = 1 << 16

// FirstNode returns the first host of a Slurm host list in its compressed
// form, as in SLURM_STEP_NODELIST or SLURM_JOB_NODELIST:
// "node[01-04,07],gpu3" gives "node01", "rack[2-3]-n[5-6]" gives "rack2-n5".
// The whole list is checked; a malformed one (unbalanced brackets, an empty
// entry, a range that is not two numbers in order) is an error, never a panic.
func FirstNode(list string) (string, error) {
	if list == "" {
		return "", fmt.Errorf("launch: empty node list")
	}
	if len(list) > maxNodelistLen {
		return "", fmt.Errorf("launch: node list of %d bytes is too long", len(list))
	}
	var first string
	rest := list
	for i := 0; ; i++ {
		entry, tail, more, err := cutEntry(rest)
		if err != nil {
			return "", fmt.Errorf("launch: node list %q: %w", clip(list), err)
		}
		host, err := firstOfEntry(entry)
		if err != nil {
			return "", fmt.Errorf("launch: node list %q: entry %q: %w", clip(list), clip(entry), err)
		}
		if i == 0 {
			first = host
		}
		if !more {
			return first, nil
		}
		rest = tail
	}
}

// cutEntry splits off the first comma-separated entry of a host list,
// ignoring commas inside brackets.
func cutEntry(s string) (entry, rest string, more bool, err error) {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '[':
			if depth > 0 {
				return "", "", false, fmt.Errorf("nested '['")
			}
			depth++
		case ']':
			if depth == 0 {
				return "", "", false, fmt.Errorf("']' without '['")
			}
			depth--
		case ',':
			if depth == 0 {
				return s[:i], s[i+1:], true, nil
			}
		}
	}
	if depth != 0 {
		return "", "", false, fmt.Errorf("unclosed '['")
	}
	return s, "", false, nil
}

// firstOfEntry expands the first host of one entry such as "n[01-04,7]x[2-3]".
func firstOfEntry(entry string) (string, error) {
	if entry == "" {
		return "", fmt.Errorf("empty host name")
	}
	var b strings.Builder
	for entry != "" {
		open := strings.IndexByte(entry, '[')
		if open < 0 {
			if err := checkHostChars(entry); err != nil {
				return "", err
			}
			b.WriteString(entry)
			break
		}
		if err := checkHostChars(entry[:open]); err != nil {
			return "", err
		}
		b.WriteString(entry[:open])
		closeAt := strings.IndexByte(entry[open:], ']')
		if closeAt < 0 { // cutEntry already balanced brackets; be safe anyway
			return "", fmt.Errorf("unclosed '['")
		}
		closeAt += open
		lo, err := firstOfRanges(entry[open+1 : closeAt])
		if err != nil {
			return "", err
		}
		b.WriteString(lo)
		entry = entry[closeAt+1:]
	}
	if b.Len() == 0 {
		return "", fmt.Errorf("empty host name")
	}
	return b.String(), nil
}

// firstOfRanges checks a bracket body like "01-04,07" and returns its first
// value with its zero padding ("01").
func firstOfRanges(body string) (string, error) {
	if body == "" {
		return "", fmt.Errorf("empty brackets")
	}
	var first string
	for i, part := range strings.Split(body, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		if !isDigits(lo) || (isRange && !isDigits(hi)) {
			return "", fmt.Errorf("bad range %q", part)
		}
		if isRange {
			l, err1 := strconv.ParseUint(lo, 10, 63)
			h, err2 := strconv.ParseUint(hi, 10, 63)
			if err1 != nil || err2 != nil || l > h {
				return "", fmt.Errorf("bad range %q", part)
			}
		}
		if i == 0 {
			first = lo
		}
	}
	return first, nil
}

func isDigits(s string) bool {
	if s == "" || len(s) > 18 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// checkHostChars accepts the characters of host names (and of dotted
// addresses); anything else in a node list is a sign of a garbled value.
func checkHostChars(s string) error {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
			return fmt.Errorf("invalid character %q in host name", c)
		}
	}
	return nil
}

// clip shortens a value quoted in an error message.
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
