//go:build !unix

package fleetsim

// cpuSeconds is not measured on this platform.
func cpuSeconds() float64 { return 0 }

// peakRSS is not measured on this platform.
func peakRSS() int64 { return 0 }

// fdLimit is not known on this platform: no limit is assumed.
func fdLimit() int { return 1 << 30 }
