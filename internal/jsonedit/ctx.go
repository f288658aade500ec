package jsonedit

// Ctx is the context of a visitor that another visitor can call on the
// same walk (the other calls it first on every part and skips what it
// drops): a reference (a compiled schema node, a rule; a pointer stored
// in an interface costs no allocation) and a depth. It lets a stage hand
// its visitor to a later stage's walk without either knowing the other's
// types (pipeline.JSONPass).
type Ctx struct {
	Ref   any
	Depth int
}
