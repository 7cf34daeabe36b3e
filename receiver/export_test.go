package receiver

import "time"

// SetGCListTimeout sets the bound of a sweep's listings until restore is
// called. Only for tests that are not parallel.
func SetGCListTimeout(d time.Duration) (restore func()) {
	old := gcListTimeout
	gcListTimeout = d
	return func() { gcListTimeout = old }
}

// SetGCBeforeDelete sets the function a sweep calls between its first
// reading of the references and the second, until restore is called.
// Only for tests that are not parallel.
func SetGCBeforeDelete(f func()) (restore func()) {
	old := gcBeforeDelete
	gcBeforeDelete = f
	return func() { gcBeforeDelete = old }
}
