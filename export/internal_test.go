package export

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/xt2onnx/xt2onnx/graph"
)

func tinyModel() *graph.Model {
	return &graph.Model{
		Opsets: []graph.OpsetImport{{Version: 18}},
		Graph: &graph.Graph{
			Inputs:       []graph.ValueInfo{{Name: "x", DType: graph.Float, Shape: []graph.Dim{graph.Fixed(4)}}},
			Outputs:      []graph.ValueInfo{{Name: "y", DType: graph.Float, Shape: []graph.Dim{graph.Fixed(4)}}},
			Initializers: []*graph.Tensor{graph.FloatTensor("b", []int64{4}, []float32{1, 2, 3, 4})},
			Nodes:        []*graph.Node{{Name: "add", OpType: "Add", Inputs: []string{"x", "b"}, Outputs: []string{"y"}}},
		},
	}
}

func TestTooLarge(t *testing.T) {
	data, err := Marshal(tinyModel(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func(old int64) { maxBytes = old }(maxBytes)
	maxBytes = int64(len(data)) - 1
	_, err = Marshal(tinyModel(), Options{})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("error = %v, want ErrTooLarge", err)
	}
	for _, w := range []string{"2 GiB", "serialises to " + strconv.Itoa(len(data)) + " bytes", "external data"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
	maxBytes = int64(len(data))
	if _, err := Marshal(tinyModel(), Options{}); err != nil {
		t.Errorf("a model of exactly the limit was refused: %v", err)
	}
	// WriteFile refuses too, and writes nothing.
	maxBytes = 10
	dir := t.TempDir()
	if err := WriteFile(filepath.Join(dir, "big.onnx"), tinyModel(), Options{}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("WriteFile error = %v, want ErrTooLarge", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("WriteFile left %d entries", len(ents))
	}
}
