package fleetsim

import (
	"encoding/json"
	"math"
	"strconv"
	"time"
)

// Seconds is a duration written in JSON as a number of seconds (to the
// microsecond), for scripts reading `--json` output.
type Seconds time.Duration

// D returns the time.Duration.
func (s Seconds) D() time.Duration { return time.Duration(s) }

// MarshalJSON writes the seconds.
func (s Seconds) MarshalJSON() ([]byte, error) {
	return []byte(strconv.FormatFloat(math.Round(time.Duration(s).Seconds()*1e6)/1e6, 'f', -1, 64)), nil
}

// UnmarshalJSON reads a number of seconds.
func (s *Seconds) UnmarshalJSON(b []byte) error {
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*s = Seconds(time.Duration(f * float64(time.Second)))
	return nil
}

// String formats like time.Duration, rounded to the millisecond.
func (s Seconds) String() string { return time.Duration(s).Round(time.Millisecond).String() }

func itoa(n int) string { return strconv.Itoa(n) }
