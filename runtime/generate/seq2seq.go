package generate

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/xt2onnx/xt2onnx/runtime"
)

// Seq2Seq generates with an XTransformer exported as its two parts
// (PartEncoder and PartDecoder), as 1.9.2's
// XTransformer.generate does: the encoder runs once on the source, and its
// part also computes every decoder cross-attention layer's keys and values
// of the encodings; the decoder then continues the start tokens like
// AutoregressiveWrapper.generate, with context_mask = the source mask, and
// with its own KV cache when the decoder part has one.
type Seq2Seq struct {
	enc     runtime.Session
	dec     *Generator
	encMask bool // the encoder part takes src_mask
}

// NewSeq2Seq returns a Seq2Seq over sessions of the encoder and decoder
// parts; meta is the decoder part's (ReadMeta or MetaFromConfig).
func NewSeq2Seq(enc, dec runtime.Session, meta Meta) (*Seq2Seq, error) {
	if enc == nil || dec == nil {
		return nil, errors.New("generate: Seq2Seq needs an encoder and a decoder session")
	}
	if meta.Kind != KindXTransformer {
		if meta.Kind == "" {
			return nil, errors.New("generate: the decoder carries no xt2onnx metadata: export it with xt2onnx export --part decoder")
		}
		return nil, fmt.Errorf("generate: the decoder is a %s, not an XTransformer part (decoder-only models generate with New)", meta.Kind)
	}
	if meta.Part != PartDecoder {
		return nil, fmt.Errorf("generate: the decoder model is an XTransformer's %q part, want the decoder part (xt2onnx export --part decoder)", partName(meta.Part))
	}
	g, err := newGenerator(dec, meta, true)
	if err != nil {
		return nil, err
	}
	s := &Seq2Seq{enc: enc, dec: g}
	var haveSrc bool
	for _, in := range enc.Inputs() {
		switch in.Name {
		case inputSource:
			haveSrc = true
		case inputSourceMask:
			s.encMask = true
		default:
			return nil, fmt.Errorf("generate: the encoder takes %s: want an XTransformer encoder part (inputs src, src_mask)", in)
		}
	}
	if !haveSrc {
		return nil, fmt.Errorf("generate: the encoder has no input %q: want an XTransformer encoder part (xt2onnx export --part encoder)", inputSource)
	}
	outs := map[string]bool{}
	for _, o := range enc.Outputs() {
		outs[o.Name] = true
	}
	for _, name := range g.fixed {
		if name != inputSourceMask && !outs[name] {
			return nil, fmt.Errorf("generate: the decoder takes %q, which the encoder does not return: export both parts from one config", name)
		}
	}
	return s, nil
}

func partName(p string) string {
	if p == "" {
		return "whole"
	}
	return string(p)
}

// Decoder returns the generator of the decoder part.
func (s *Seq2Seq) Decoder() *Generator { return s.dec }

// Generate encodes src (rows of one length; srcMask, when not nil, marks
// the tokens to keep, true, as 1.9.2's mask) once and continues start (one
// row per source row) by up to opts.MaxNew tokens, returning the new tokens
// as Generator.Generate does.
func (s *Seq2Seq) Generate(ctx context.Context, src [][]int64, srcMask [][]bool, start [][]int64, opts Options) ([][]int64, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	fixed, err := s.Encode(ctx, src, srcMask)
	if err != nil {
		return nil, err
	}
	if len(start) != len(src) {
		return nil, fmt.Errorf("generate: %d start rows for %d source rows: give one start row per source row", len(start), len(src))
	}
	return s.dec.generate(ctx, start, opts, fixed)
}

// Encode runs the encoder part on src and returns the inputs every decoder
// step takes (cross-attention keys and values, src_mask).
func (s *Seq2Seq) Encode(ctx context.Context, src [][]int64, srcMask [][]bool) (map[string]*runtime.Tensor, error) {
	meta := s.dec.meta
	if len(src) == 0 || len(src[0]) == 0 {
		return nil, errors.New("generate: empty source: give at least one row of at least one source token")
	}
	n := len(src[0])
	if meta.SrcMaxSeqLen > 0 && n > meta.SrcMaxSeqLen {
		return nil, fmt.Errorf("generate: the source has %d tokens; the encoder takes at most enc_max_seq_len = %d", n, meta.SrcMaxSeqLen)
	}
	if srcMask != nil && len(srcMask) != len(src) {
		return nil, fmt.Errorf("generate: %d source mask rows for %d source rows", len(srcMask), len(src))
	}
	ids := make([]int64, 0, len(src)*n)
	keep := make([]bool, 0, len(src)*n)
	for r, row := range src {
		if len(row) != n {
			return nil, fmt.Errorf("generate: source row %d has %d tokens and row 0 has %d: all rows must have the same length (mask the padding with the source mask)", r, len(row), n)
		}
		if srcMask != nil && len(srcMask[r]) != n {
			return nil, fmt.Errorf("generate: source mask row %d has %d values, the source row %d", r, len(srcMask[r]), n)
		}
		for j, tok := range row {
			if tok < 0 || (meta.SrcNumTokens > 0 && tok >= int64(meta.SrcNumTokens)) {
				return nil, fmt.Errorf("generate: source row %d, position %d: token %d is outside the encoder's vocabulary [0, %d)", r, j, tok, meta.SrcNumTokens)
			}
			keep = append(keep, srcMask == nil || srcMask[r][j])
		}
		ids = append(ids, row...)
	}
	shape := []int64{int64(len(src)), int64(n)}
	x, err := runtime.NewInt64(shape, ids)
	if err != nil {
		return nil, err
	}
	mask, err := runtime.NewBool(shape, keep)
	if err != nil {
		return nil, err
	}
	in := map[string]*runtime.Tensor{inputSource: x}
	if s.encMask {
		in[inputSourceMask] = mask
	} else if slices.Contains(keep, false) {
		return nil, errors.New("generate: the encoder part takes no src_mask, so it cannot mask the source: export it with the mask")
	}
	outs, err := s.enc.Run(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("generate: encoder: %w", err)
	}
	fixed := map[string]*runtime.Tensor{}
	for _, name := range s.dec.fixed {
		if name == inputSourceMask {
			fixed[name] = mask
			continue
		}
		if fixed[name] = outs[name]; fixed[name] == nil {
			return nil, fmt.Errorf("generate: the encoder returned no %q", name)
		}
	}
	return fixed, nil
}
