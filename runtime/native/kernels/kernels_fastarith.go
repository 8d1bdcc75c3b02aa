package kernels

// Fast paths of the elementwise kernels for float32 and float64: a tight
// loop per operator and broadcast form instead of a function call per
// element, split over the context's workers by rows of the broadcast plan.

// rowOffsets sets offs to the input offsets of output row r of p.
func (p *bplan) rowOffsets(r int, offs []int) {
	for j := range offs {
		offs[j] = 0
	}
	for d := len(p.dims) - 1; d >= 0; d-- {
		i := r % p.dims[d]
		r /= p.dims[d]
		for j := range offs {
			offs[j] += i * p.str[j][d]
		}
	}
}

// eachRows calls fn for every row of the output, like each, spreading
// blocks of rows over the context's workers.
func (p *bplan) eachRows(ec *ExecContext, fn func(o int, offs []int)) {
	rows := numel(p.dims)
	if numel(p.out) == 0 || rows == 0 {
		return
	}
	const target = 1 << 15 // elements per task
	per := max(1, target/max(p.inner, 1))
	tasks := (rows + per - 1) / per
	k := len(p.str)
	ec.parallel(tasks, per*p.inner, func(t int) {
		offs := make([]int, k)
		idx := make([]int, len(p.dims))
		lo, hi := t*per, min(rows, (t+1)*per)
		p.rowOffsets(lo, offs)
		r := lo
		for d := len(p.dims) - 1; d >= 0; d-- {
			idx[d] = r % p.dims[d]
			r /= p.dims[d]
		}
		for r := lo; r < hi; r++ {
			fn(r*p.inner, offs)
			for d := len(p.dims) - 1; d >= 0; d-- {
				idx[d]++
				for j := 0; j < k; j++ {
					offs[j] += p.str[j][d]
				}
				if idx[d] < p.dims[d] {
					break
				}
				for j := 0; j < k; j++ {
					offs[j] -= p.str[j][d] * p.dims[d]
				}
				idx[d] = 0
			}
		}
	})
}

// arithFloat computes a binary Add, Sub, Mul or Div over the broadcast plan
// p; it returns false for other operators.
func arithFloat[T floating](ec *ExecContext, op string, p *bplan, a, b, dst []T) bool {
	switch op {
	case "Add", "Sum", "Sub", "Mul", "Div":
	default:
		return false
	}
	as, bs, n := p.istr[0], p.istr[1], p.inner
	p.eachRows(ec, func(o int, offs []int) {
		d := dst[o : o+n]
		x, y := a[offs[0]:], b[offs[1]:]
		switch {
		case as == 1 && bs == 1:
			x, y = x[:n], y[:n]
			switch op {
			case "Add", "Sum":
				for i := range d {
					d[i] = x[i] + y[i]
				}
			case "Sub":
				for i := range d {
					d[i] = x[i] - y[i]
				}
			case "Mul":
				for i := range d {
					d[i] = x[i] * y[i]
				}
			case "Div":
				for i := range d {
					d[i] = x[i] / y[i]
				}
			}
		case as == 1:
			x, v := x[:n], y[0]
			switch op {
			case "Add", "Sum":
				for i := range d {
					d[i] = x[i] + v
				}
			case "Sub":
				for i := range d {
					d[i] = x[i] - v
				}
			case "Mul":
				for i := range d {
					d[i] = x[i] * v
				}
			case "Div":
				for i := range d {
					d[i] = x[i] / v
				}
			}
		case bs == 1:
			v, y := x[0], y[:n]
			switch op {
			case "Add", "Sum":
				for i := range d {
					d[i] = v + y[i]
				}
			case "Sub":
				for i := range d {
					d[i] = v - y[i]
				}
			case "Mul":
				for i := range d {
					d[i] = v * y[i]
				}
			case "Div":
				for i := range d {
					d[i] = v / y[i]
				}
			}
		default:
			var r T
			switch op {
			case "Add", "Sum":
				r = x[0] + y[0]
			case "Sub":
				r = x[0] - y[0]
			case "Mul":
				r = x[0] * y[0]
			case "Div":
				r = x[0] / y[0]
			}
			for i := range d {
				d[i] = r
			}
		}
	})
	return true
}
