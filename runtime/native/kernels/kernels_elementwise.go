package kernels

import (
	"fmt"
	"math"

	"github.com/xt2onnx/xt2onnx/internal/vecmath"
	"gorgonia.org/tensor"
)

// halfVia32 runs k on float32 copies of its float16 and bfloat16 inputs
// and rounds the kernel's float32 outputs back to the half type, so that
// float kernels serve the half types too (each result rounded once, as a
// half-precision implementation computing in float32 does).
func halfVia32(k Kernel) Kernel {
	return func(ec *ExecContext, in []*tensor.Dense) ([]*tensor.Dense, error) {
		var half tensor.Dtype
		var args []*tensor.Dense
		for i, x := range in {
			if x == nil || (x.Dtype() != Float16Dtype && x.Dtype() != BFloat16Dtype) {
				continue
			}
			if args == nil {
				args = append([]*tensor.Dense{}, in...)
			}
			half = x.Dtype()
			f, err := castDense(ec, x, tensor.Float32)
			if err != nil {
				return nil, err
			}
			args[i] = f
		}
		if args == nil {
			return k(ec, in)
		}
		out, err := k(ec, args)
		if err != nil {
			return nil, err
		}
		for i, o := range out {
			if o != nil && o.Dtype() == tensor.Float32 {
				if out[i], err = castDense(ec, o, half); err != nil {
					return nil, err
				}
			}
		}
		return out, nil
	}
}

// sameType checks that all present inputs share one element type.
func sameType(in ...*tensor.Dense) error {
	var first *tensor.Dense
	for _, x := range in {
		if x == nil {
			continue
		}
		if first == nil {
			first = x
			continue
		}
		if x.Dtype() != first.Dtype() {
			return fmt.Errorf("inputs have different element types: %s and %s (insert a Cast)", dtName(first.Dtype()), dtName(x.Dtype()))
		}
	}
	return nil
}

// arithFn returns the elementwise function of a binary arithmetic
// operator for element type T.
func arithFn[T numeric](op string) func(a, b T) T {
	switch op {
	case "Add", "Sum":
		return func(a, b T) T { return a + b }
	case "Sub":
		return func(a, b T) T { return a - b }
	case "Mul":
		return func(a, b T) T { return a * b }
	case "Div":
		return func(a, b T) T { return a / b }
	case "Max":
		return func(a, b T) T {
			if a != a || a > b {
				return a
			}
			return b
		}
	case "Min":
		return func(a, b T) T {
			if a != a || a < b {
				return a
			}
			return b
		}
	}
	return nil
}

// arith applies a binary arithmetic operator ("Add", "Sub", "Mul", "Div",
// "Max", "Min", "Sum") with broadcasting; both inputs must share a type.
func arith(ec *ExecContext, op string, a, b *tensor.Dense) (*tensor.Dense, error) {
	if err := sameType(a, b); err != nil {
		return nil, err
	}
	if op == "Div" {
		if err := checkIntDivisor(b); err != nil {
			return nil, err
		}
	}
	p, err := planBroadcast(a.Shape(), b.Shape())
	if err != nil {
		return nil, err
	}
	out := ec.allocUninit(a.Dtype(), p.out)
	switch a.Dtype() {
	case tensor.Float32:
		if !arithFloat(ec, op, p, view[float32](a), view[float32](b), view[float32](out)) {
			runBinary(p, view[float32](a), view[float32](b), view[float32](out), arithFn[float32](op))
		}
	case tensor.Float64:
		if !arithFloat(ec, op, p, view[float64](a), view[float64](b), view[float64](out)) {
			runBinary(p, view[float64](a), view[float64](b), view[float64](out), arithFn[float64](op))
		}
	case tensor.Int64:
		runBinary(p, view[int64](a), view[int64](b), view[int64](out), arithFn[int64](op))
	case tensor.Int32:
		runBinary(p, view[int32](a), view[int32](b), view[int32](out), arithFn[int32](op))
	case tensor.Int16:
		runBinary(p, view[int16](a), view[int16](b), view[int16](out), arithFn[int16](op))
	case tensor.Int8:
		runBinary(p, view[int8](a), view[int8](b), view[int8](out), arithFn[int8](op))
	case tensor.Uint64:
		runBinary(p, view[uint64](a), view[uint64](b), view[uint64](out), arithFn[uint64](op))
	case tensor.Uint32:
		runBinary(p, view[uint32](a), view[uint32](b), view[uint32](out), arithFn[uint32](op))
	case tensor.Uint16:
		runBinary(p, view[uint16](a), view[uint16](b), view[uint16](out), arithFn[uint16](op))
	case tensor.Uint8:
		runBinary(p, view[uint8](a), view[uint8](b), view[uint8](out), arithFn[uint8](op))
	default:
		return nil, fmt.Errorf("%s does not support element type %s", op, dtName(a.Dtype()))
	}
	return out, nil
}

// mod implements Mod: integer remainder with the divisor's sign (fmod 0,
// Python's %), or with the dividend's sign (fmod 1, C's fmod).
func mod(ec *ExecContext, a, b *tensor.Dense, fmod bool) (*tensor.Dense, error) {
	if err := sameType(a, b); err != nil {
		return nil, err
	}
	p, err := planBroadcast(a.Shape(), b.Shape())
	if err != nil {
		return nil, err
	}
	out := ec.alloc(a.Dtype(), p.out)
	if isFloat(a.Dtype()) && !fmod {
		return nil, fmt.Errorf("floating-point inputs need fmod=1")
	}
	if err := checkIntDivisor(b); err != nil {
		return nil, err
	}
	switch a.Dtype() {
	case tensor.Float32:
		runBinary(p, view[float32](a), view[float32](b), view[float32](out), func(x, y float32) float32 { return float32(math.Mod(float64(x), float64(y))) })
	case tensor.Float64:
		runBinary(p, view[float64](a), view[float64](b), view[float64](out), math.Mod)
	case tensor.Int64:
		runBinary(p, view[int64](a), view[int64](b), view[int64](out), intMod[int64](fmod))
	case tensor.Int32:
		runBinary(p, view[int32](a), view[int32](b), view[int32](out), intMod[int32](fmod))
	case tensor.Int16:
		runBinary(p, view[int16](a), view[int16](b), view[int16](out), intMod[int16](fmod))
	case tensor.Int8:
		runBinary(p, view[int8](a), view[int8](b), view[int8](out), intMod[int8](fmod))
	case tensor.Uint64:
		runBinary(p, view[uint64](a), view[uint64](b), view[uint64](out), intMod[uint64](fmod))
	case tensor.Uint32:
		runBinary(p, view[uint32](a), view[uint32](b), view[uint32](out), intMod[uint32](fmod))
	case tensor.Uint16:
		runBinary(p, view[uint16](a), view[uint16](b), view[uint16](out), intMod[uint16](fmod))
	case tensor.Uint8:
		runBinary(p, view[uint8](a), view[uint8](b), view[uint8](out), intMod[uint8](fmod))
	default:
		return nil, fmt.Errorf("element type %s is not supported", dtName(a.Dtype()))
	}
	return out, nil
}

// checkIntDivisor refuses an integer divisor holding a zero: integer
// division by zero has no value (NumPy gives 0 with a warning, C++ runtimes
// trap), so it is an error naming the element.
func checkIntDivisor(b *tensor.Dense) error {
	if isFloat(b.Dtype()) || b.Dtype() == tensor.Bool {
		return nil
	}
	raw := b.Header.Raw
	size := int(b.Dtype().Size())
	for i := 0; i+size <= len(raw); i += size {
		zero := true
		for _, c := range raw[i : i+size] {
			if c != 0 {
				zero = false
				break
			}
		}
		if zero {
			return fmt.Errorf("integer division by zero: element %d of the divisor is 0", i/size)
		}
	}
	return nil
}

func intMod[T integer](fmod bool) func(a, b T) T {
	if fmod {
		return func(a, b T) T { return a % b }
	}
	return func(a, b T) T {
		r := a % b
		if r != 0 && (r < 0) != (b < 0) {
			r += b
		}
		return r
	}
}

// pow computes x**y in float64 and stores the result in x's type.
func pow(ec *ExecContext, x, y *tensor.Dense) (*tensor.Dense, error) {
	if !isNumeric(x.Dtype()) || !isNumeric(y.Dtype()) {
		return nil, fmt.Errorf("inputs must be numbers, got %s and %s", dtName(x.Dtype()), dtName(y.Dtype()))
	}
	p, err := planBroadcast(x.Shape(), y.Shape())
	if err != nil {
		return nil, err
	}
	a, err := toFloat64s(ec, x)
	if err != nil {
		return nil, err
	}
	b, err := toFloat64s(ec, y)
	if err != nil {
		return nil, err
	}
	r := allocSlice[float64](ec, shapeElems(p.out), "float64 result")
	runBinary(p, a, b, r, math.Pow)
	return fromFloat64s(ec, x.Dtype(), p.out, r)
}

// cmpFn returns the comparison function of a comparison operator.
func cmpFn[T numeric](op string) func(a, b T) bool {
	switch op {
	case "Equal":
		return func(a, b T) bool { return a == b }
	case "Less":
		return func(a, b T) bool { return a < b }
	case "LessOrEqual":
		return func(a, b T) bool { return a <= b }
	case "Greater":
		return func(a, b T) bool { return a > b }
	case "GreaterOrEqual":
		return func(a, b T) bool { return a >= b }
	}
	return nil
}

// compare applies a comparison operator with broadcasting; the result is
// bool. Equal also accepts bool inputs.
func compare(ec *ExecContext, op string, a, b *tensor.Dense) (*tensor.Dense, error) {
	if err := sameType(a, b); err != nil {
		return nil, err
	}
	p, err := planBroadcast(a.Shape(), b.Shape())
	if err != nil {
		return nil, err
	}
	out := ec.alloc(tensor.Bool, p.out)
	o := view[bool](out)
	switch a.Dtype() {
	case tensor.Float32:
		runBinary(p, view[float32](a), view[float32](b), o, cmpFn[float32](op))
	case tensor.Float64:
		runBinary(p, view[float64](a), view[float64](b), o, cmpFn[float64](op))
	case tensor.Int64:
		runBinary(p, view[int64](a), view[int64](b), o, cmpFn[int64](op))
	case tensor.Int32:
		runBinary(p, view[int32](a), view[int32](b), o, cmpFn[int32](op))
	case tensor.Int16:
		runBinary(p, view[int16](a), view[int16](b), o, cmpFn[int16](op))
	case tensor.Int8:
		runBinary(p, view[int8](a), view[int8](b), o, cmpFn[int8](op))
	case tensor.Uint64:
		runBinary(p, view[uint64](a), view[uint64](b), o, cmpFn[uint64](op))
	case tensor.Uint32:
		runBinary(p, view[uint32](a), view[uint32](b), o, cmpFn[uint32](op))
	case tensor.Uint16:
		runBinary(p, view[uint16](a), view[uint16](b), o, cmpFn[uint16](op))
	case tensor.Uint8:
		runBinary(p, view[uint8](a), view[uint8](b), o, cmpFn[uint8](op))
	case tensor.Bool:
		if op != "Equal" {
			return nil, fmt.Errorf("%s does not support bool inputs", op)
		}
		runBinary(p, view[bool](a), view[bool](b), o, func(x, y bool) bool { return x == y })
	default:
		return nil, fmt.Errorf("%s does not support element type %s", op, dtName(a.Dtype()))
	}
	return out, nil
}

// logical applies And, Or or Xor to bool inputs with broadcasting.
func logical(ec *ExecContext, op string, a, b *tensor.Dense) (*tensor.Dense, error) {
	if a.Dtype() != tensor.Bool || b.Dtype() != tensor.Bool {
		return nil, fmt.Errorf("%s needs bool inputs, got %s and %s", op, dtName(a.Dtype()), dtName(b.Dtype()))
	}
	p, err := planBroadcast(a.Shape(), b.Shape())
	if err != nil {
		return nil, err
	}
	var f func(x, y bool) bool
	switch op {
	case "And":
		f = func(x, y bool) bool { return x && y }
	case "Or":
		f = func(x, y bool) bool { return x || y }
	default:
		f = func(x, y bool) bool { return x != y }
	}
	out := ec.alloc(tensor.Bool, p.out)
	runBinary(p, view[bool](a), view[bool](b), view[bool](out), f)
	return out, nil
}

// mapFloat applies f (computed in float64) to every element of a float32
// or float64 tensor.
func mapFloat(ec *ExecContext, x *tensor.Dense, op string, f func(float64) float64) (*tensor.Dense, error) {
	out := ec.allocUninit(x.Dtype(), shapeOf(x))
	switch x.Dtype() {
	case tensor.Float32:
		d, xs := view[float32](out), view[float32](x)
		if op == "Erf" && vecmath.KernelName() != "go" {
			chunks(ec, len(xs), func(lo, hi int) { vecmath.Erf(d[lo:hi], xs[lo:hi]) })
			break
		}
		if op == "Exp" {
			chunks(ec, len(xs), func(lo, hi int) { vecmath.Exp(d[lo:hi], xs[lo:hi]) })
			break
		}
		if op == "Erf" {
			// float32 needs erf only to float32's precision; vecmath's
			// portable Erf is slower than this rational.
			chunks(ec, len(xs), func(lo, hi int) {
				i := lo
				for ; i+4 <= hi; i += 4 {
					e0, e1, e2, e3 := erf64x4(float64(xs[i]), float64(xs[i+1]), float64(xs[i+2]), float64(xs[i+3]))
					d[i], d[i+1], d[i+2], d[i+3] = float32(e0), float32(e1), float32(e2), float32(e3)
				}
				for ; i < hi; i++ {
					d[i] = float32(erf64(float64(xs[i])))
				}
			})
			break
		}
		chunks(ec, len(xs), func(lo, hi int) {
			for i := lo; i < hi; i++ {
				d[i] = float32(f(float64(xs[i])))
			}
		})
	case tensor.Float64:
		d := view[float64](out)
		for i, v := range view[float64](x) {
			d[i] = f(v)
		}
	default:
		return nil, fmt.Errorf("%s needs a floating-point input, got %s", op, dtName(x.Dtype()))
	}
	return out, nil
}

// numFn returns the elementwise function of a unary operator defined for
// every number type.
func numFn[T numeric](op string) func(T) T {
	switch op {
	case "Abs":
		return func(v T) T {
			if v < 0 {
				return -v
			}
			return v
		}
	case "Neg":
		return func(v T) T { return -v }
	case "Sign":
		return func(v T) T {
			switch {
			case v > 0:
				return 1
			case v < 0:
				return -T(1)
			}
			return v // 0, or NaN
		}
	case "Relu":
		return func(v T) T {
			if v < 0 {
				return 0
			}
			return v
		}
	case "Identity":
		return func(v T) T { return v }
	}
	return nil
}

func mapNum[T numeric](x, out *tensor.Dense, f func(T) T) {
	d := view[T](out)
	for i, v := range view[T](x) {
		d[i] = f(v)
	}
}

// mapNumeric applies a unary operator of numFn to a tensor of any number
// type.
func mapNumeric(ec *ExecContext, x *tensor.Dense, op string) (*tensor.Dense, error) {
	out := ec.alloc(x.Dtype(), shapeOf(x))
	switch x.Dtype() {
	case tensor.Float32:
		mapNum(x, out, numFn[float32](op))
	case tensor.Float64:
		mapNum(x, out, numFn[float64](op))
	case tensor.Int64:
		mapNum(x, out, numFn[int64](op))
	case tensor.Int32:
		mapNum(x, out, numFn[int32](op))
	case tensor.Int16:
		mapNum(x, out, numFn[int16](op))
	case tensor.Int8:
		mapNum(x, out, numFn[int8](op))
	case tensor.Uint64:
		mapNum(x, out, numFn[uint64](op))
	case tensor.Uint32:
		mapNum(x, out, numFn[uint32](op))
	case tensor.Uint16:
		mapNum(x, out, numFn[uint16](op))
	case tensor.Uint8:
		mapNum(x, out, numFn[uint8](op))
	default:
		return nil, fmt.Errorf("%s does not support element type %s", op, dtName(x.Dtype()))
	}
	return out, nil
}

// where selects from x where cond is true and from y elsewhere, with
// three-way broadcasting. It moves elements by size, so it serves every
// element type.
// whereTyped is where's loop for one element type.
func whereTyped[T any](p *bplan, c []bool, x, y, d []T) {
	cs, xst, yst := p.istr[0], p.istr[1], p.istr[2]
	p.each(func(o int, offs []int) {
		ci, xi, yi := offs[0], offs[1], offs[2]
		out := d[o : o+p.inner]
		for i := range out {
			if c[ci+i*cs] {
				out[i] = x[xi+i*xst]
			} else {
				out[i] = y[yi+i*yst]
			}
		}
	})
}

func where(ec *ExecContext, cond, x, y *tensor.Dense) (*tensor.Dense, error) {
	if cond.Dtype() != tensor.Bool {
		return nil, fmt.Errorf("condition must be bool, got %s", dtName(cond.Dtype()))
	}
	if err := sameType(x, y); err != nil {
		return nil, err
	}
	p, err := planBroadcast(cond.Shape(), x.Shape(), y.Shape())
	if err != nil {
		return nil, err
	}
	out := ec.alloc(x.Dtype(), p.out)
	c := view[bool](cond)
	if x.Dtype() == tensor.Float32 {
		// The attention masks' case, without a copy call per element.
		whereTyped(p, c, view[float32](x), view[float32](y), view[float32](out))
		return out, nil
	}
	es := int(x.Dtype().Size())
	xs, ys, d := x.Header.Raw, y.Header.Raw, out.Header.Raw
	cs, xst, yst := p.istr[0], p.istr[1], p.istr[2]
	p.each(func(o int, offs []int) {
		for i := 0; i < p.inner; i++ {
			var src []byte
			if c[offs[0]+i*cs] {
				j := offs[1] + i*xst
				src = xs[j*es : (j+1)*es]
			} else {
				j := offs[2] + i*yst
				src = ys[j*es : (j+1)*es]
			}
			copy(d[(o+i)*es:], src)
		}
	})
	return out, nil
}
