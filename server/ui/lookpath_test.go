package ui_test

import "os/exec"

var lookPath = exec.LookPath
