package ledger

import (
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// maxRawIDLen bounds an id used in a key as it is; longer ids are hashed, so every key
// stays short whatever a token carries.
const maxRawIDLen = 64

// hashedIDMark starts a hashed id. It is outside the characters a raw id may have, so a
// hashed id never equals a raw one.
const hashedIDMark = '~'

// periods are the UTC day and calendar month a request falls in.
type periods struct {
	day, month         string    // 2006-01-02, 2006-01
	nextDay, nextMonth time.Time // when each period resets
}

func periodsAt(now time.Time) periods {
	now = now.UTC()
	y, m, d := now.Date()
	return periods{
		day:       now.Format(time.DateOnly),
		month:     now.Format("2006-01"),
		nextDay:   time.Date(y, m, d+1, 0, 0, 0, 0, time.UTC),
		nextMonth: time.Date(y, m+1, 1, 0, 0, 0, 0, time.UTC),
	}
}

// expiryGrace keeps a counter a day past its period, so a request at the end of a period
// still reads its counter and an operator can look at yesterday's figures.
const expiryGrace = 24 * time.Hour

func (p periods) dayExpireAt() time.Time   { return p.nextDay.Add(expiryGrace) }
func (p periods) monthExpireAt() time.Time { return p.nextMonth.Add(expiryGrace) }

// requestKeys are the counters a request touches; customer and trial are empty when the
// request has none.
type requestKeys struct {
	agent, platform, customer, trial string
}

func (l *Ledger) keys(req Request, p periods) requestKeys {
	k := requestKeys{
		agent:    l.prefix + "budget:agent:" + keyID(req.AgentKey) + ":" + p.day,
		platform: l.prefix + "budget:platform:" + p.month,
	}
	if req.CustomerID != "" {
		k.customer = l.prefix + "budget:customer:" + keyID(req.CustomerID) + ":" + p.month
	}
	if req.TrialTask {
		k.trial = l.prefix + "trial:tasks:" + keyID(req.UserID) + ":" + p.day
	}
	return k
}

// list returns the keys in use, in the order the script expects them.
func (k requestKeys) list() []string {
	keys := []string{k.agent, k.platform}
	if k.customer != "" {
		keys = append(keys, k.customer)
	}
	if k.trial != "" {
		keys = append(keys, k.trial)
	}
	return keys
}

// keyID makes an id from a token safe to put in a key: it is kept as it is when short and
// made only of characters that cannot split a key or pick a cluster hash slot (no ':',
// '{', '}'), and is otherwise replaced by a hash, so no two ids share a key.
func keyID(id string) string {
	if len(id) <= maxRawIDLen && isPlainID(id) {
		return id
	}
	sum := sha256.Sum256([]byte(id))
	return string(hashedIDMark) + hex.EncodeToString(sum[:])
}

func isPlainID(id string) bool {
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-', c == '_', c == '.', c == '@':
		default:
			return false
		}
	}
	return true
}
