//go:build !amd64 || purego

package vecmath

// Only the Go path exists here; the assembly entry points are never called.

func erfAsm(path, *float32, *float32, int)                 { panic("vecmath: no assembly") }
func expAsm(path, *float32, *float32, int)                 { panic("vecmath: no assembly") }
func geluAsm(path, *float32, *float32, int, float32, bool) { panic("vecmath: no assembly") }
func maxAsm(path, *float32, int) (float32, bool)           { panic("vecmath: no assembly") }
func sum64Asm(path, *float32, int) float64                 { panic("vecmath: no assembly") }
func softmaxAsm(path, *float32, *float32, int, float64)    { panic("vecmath: no assembly") }
