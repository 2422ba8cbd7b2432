package localproc

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// ModuleRoot is the directory of go.mod above the working directory (tests
// run in their package's directory).
func ModuleRoot() (string, error) {
	d, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", errors.New("go.mod not found above the working directory")
		}
		d = parent
	}
}

// NodeTool finds one of the pinned node tools (tools/package.json): in
// $TOOLS_BIN (taken from the module root when relative), else in the
// Makefile's .cache/node-tools, installing them with make when missing.
func NodeTool(name string) (string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	if d := os.Getenv("TOOLS_BIN"); d != "" {
		if !filepath.IsAbs(d) {
			d = filepath.Join(root, d)
		}
		return filepath.Join(d, name), nil
	}
	bin := filepath.Join(root, ".cache", "node-tools", "node_modules", ".bin", name)
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	cmd := exec.Command("make", "-C", root, "node-tools")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("install %s with make node-tools: %w", name, err)
	}
	return bin, nil
}
