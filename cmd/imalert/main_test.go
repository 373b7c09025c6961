package main

import (
	"os"
	"testing"

	"github.com/imalert/imalert/internal/testutil"
)

// TestMain removes the imalert binary the end-to-end tests build, once
// for the whole run, when they end.
func TestMain(m *testing.M) { os.Exit(testutil.Main(m)) }
