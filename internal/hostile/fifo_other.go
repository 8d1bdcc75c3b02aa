//go:build !unix

package hostile

import "errors"

const canMkfifo = false

func mkfifo(string) error { return errors.New("no FIFOs on this platform") }
