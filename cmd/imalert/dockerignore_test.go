package main

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// The image's build context leaves out the repository history, data
// directories and databases: a journal holds callback payloads.
func TestDockerignore(t *testing.T) {
	b, err := os.ReadFile("../../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	var patterns []string
	for _, line := range strings.Split(string(b), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			patterns = append(patterns, line)
		}
	}
	for _, want := range []string{".git", "data", "**/data", "*.db", "*.db-wal", "*.db-shm"} {
		if !slices.Contains(patterns, want) {
			t.Errorf(".dockerignore lacks %q", want)
		}
	}
	// The Dockerfile copies these: they must stay in the context.
	for _, keep := range []string{"config.example.yaml", "rules", "go.mod", "cmd"} {
		if slices.Contains(patterns, keep) {
			t.Errorf(".dockerignore leaves out %q, which the build needs", keep)
		}
	}
}
