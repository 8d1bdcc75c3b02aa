//go:build unix

package ort

/*
#cgo LDFLAGS: -ldl
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

// xt2onnx_probe dlopens name, finds the file that defines OrtGetApiBase and
// unloads it again. It returns 0 and sets *path (malloc'd), or returns
// non-zero and sets *err (malloc'd).
static int xt2onnx_probe(const char *name, char **path, char **err) {
	*path = NULL;
	*err = NULL;
	void *h = dlopen(name, RTLD_LAZY | RTLD_LOCAL);
	if (h == NULL) {
		const char *e = dlerror();
		*err = strdup(e != NULL ? e : "dlopen failed");
		return 1;
	}
	void *sym = dlsym(h, "OrtGetApiBase");
	if (sym == NULL) {
		dlclose(h);
		*err = strdup("loads, but defines no OrtGetApiBase: not an ONNX Runtime library");
		return 2;
	}
	Dl_info info;
	if (dladdr(sym, &info) != 0 && info.dli_fname != NULL) {
		*path = strdup(info.dli_fname);
	} else {
		*path = strdup(name);
	}
	dlclose(h);
	return 0;
}
*/
import "C"

import (
	"errors"
	"unsafe"
)

// probeLoader asks the dynamic loader for name and returns the path of the
// ONNX Runtime library it loads.
func probeLoader(name string) (string, error) {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	var path, msg *C.char
	rc := C.xt2onnx_probe(cname, &path, &msg)
	defer C.free(unsafe.Pointer(path))
	defer C.free(unsafe.Pointer(msg))
	if rc != 0 {
		return "", errors.New(C.GoString(msg))
	}
	return C.GoString(path), nil
}
