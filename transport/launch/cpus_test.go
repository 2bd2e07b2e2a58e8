package launch

import "testing"

func TestRankProcs(t *testing.T) {
	for _, c := range []struct {
		name                                  string
		allowed, online, local, current, want int
		env                                   string
		set                                   bool
	}{
		{"two ranks on two CPUs", 2, 2, 2, 2, 1, "", true},
		{"four ranks on two CPUs", 2, 2, 4, 2, 1, "", true},
		{"four ranks on 64 CPUs", 64, 64, 4, 64, 16, "", true},
		{"one rank keeps every CPU", 8, 8, 1, 8, 8, "", false},
		{"the user set GOMAXPROCS", 2, 2, 2, 2, 2, "2", false},
		{"bound by the launcher", 16, 64, 4, 16, 16, "", false},
		{"never raised", 64, 64, 4, 8, 8, "", false},
		{"online unknown", 4, 0, 2, 4, 2, "", true},
		{"no node ranks known", 4, 4, 0, 4, 4, "", false},
	} {
		got, set := rankProcs(c.allowed, c.online, c.local, c.current, c.env)
		if got != c.want || set != c.set {
			t.Errorf("%s: rankProcs = %d, %v; want %d, %v", c.name, got, set, c.want, c.set)
		}
	}
}

func TestCountCPUList(t *testing.T) {
	for s, want := range map[string]int{
		"0": 1, "0-1": 2, "0-3,8-11": 8, "0,2,4": 3, "0-63": 64,
		"": 0, "x": 0, "3-1": 0, "0-": 0, "-1": 0,
	} {
		if got := countCPUList(s); got != want {
			t.Errorf("countCPUList(%q) = %d, want %d", s, got, want)
		}
	}
}
