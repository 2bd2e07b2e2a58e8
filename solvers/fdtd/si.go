package fdtd

// SI converts between the solver's normalised units (c = ε₀ = μ₀ = 1, unit
// cells, so time is in cell-crossing times Δx/c and H is scaled by the
// vacuum impedance η₀) and SI units, for cells Dx metres wide.
type SI struct {
	Dx float64 // cell size in metres
}

const (
	// SpeedOfLight is c in m/s.
	SpeedOfLight = 299792458.0
	// VacuumImpedance is η₀ = μ₀c in ohms (CODATA 2018).
	VacuumImpedance = 376.730313668
)

// Seconds is the SI duration of t normalised time units.
func (u SI) Seconds(t float64) float64 { return t * u.Dx / SpeedOfLight }

// Time is the normalised duration of s seconds.
func (u SI) Time(s float64) float64 { return s * SpeedOfLight / u.Dx }

// Hertz is the SI frequency of f cycles per normalised time unit.
func (u SI) Hertz(f float64) float64 { return f * SpeedOfLight / u.Dx }

// Frequency is the normalised frequency of hz hertz.
func (u SI) Frequency(hz float64) float64 { return hz * u.Dx / SpeedOfLight }

// Metres is the length of cells cells.
func (u SI) Metres(cells float64) float64 { return cells * u.Dx }

// Cells is the number of cells in m metres.
func (u SI) Cells(m float64) float64 { return m / u.Dx }

// Conductivity is the normalised σ of a conductivity in S/m: the E update
// ε₀εr ∂E/∂t = ∇×H − σE in units where c = ε₀ = 1 and H is scaled by η₀
// has σ' = σ Δx η₀.
func (u SI) Conductivity(sm float64) float64 { return sm * u.Dx * VacuumImpedance }

// AmperesPerMetre is the SI magnetic field of a normalised H (which is in
// the units of E, V/m, scaled by η₀).
func (u SI) AmperesPerMetre(h float64) float64 { return h / VacuumImpedance }
