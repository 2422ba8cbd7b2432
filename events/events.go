// Package events holds the JSON Schemas of the events Dormancy publishes
// (schema/) and real sample payloads of every event its functions receive
// (the *.json files beside this one). Validate checks an event detail
// against its schema; tests run every event the code emits through it.
package events

import (
	"bytes"
	"embed"
	"fmt"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

//go:embed schema/*.json
var schemaFS embed.FS

//go:embed *.json
var samples embed.FS

// schemaFiles maps each detail type to its schema.
var schemaFiles = map[string]string{
	"UserDeactivated":     "schema/user-deactivated.json",
	"UserReactivated":     "schema/user-reactivated.json",
	"UserDormancyWarning": "schema/user-dormancy-warning.json",
	"RecordUserCleared":   "schema/record-user-cleared.json",
	"SweepHeld":           "schema/sweep-held.json",
	"SweepCompleted":      "schema/sweep-completed.json",
}

var (
	compileOnce sync.Once
	compiled    map[string]*jsonschema.Schema
	compileErr  error
)

func compile() {
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	compiled = map[string]*jsonschema.Schema{}
	for dt, path := range schemaFiles {
		b, err := schemaFS.ReadFile(path)
		if err != nil {
			compileErr = err
			return
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			compileErr = fmt.Errorf("%s: %w", path, err)
			return
		}
		if err := c.AddResource(path, doc); err != nil {
			compileErr = fmt.Errorf("%s: %w", path, err)
			return
		}
		s, err := c.Compile(path)
		if err != nil {
			compileErr = fmt.Errorf("%s: %w", path, err)
			return
		}
		compiled[dt] = s
	}
}

// DetailTypes lists the detail types that have a schema.
func DetailTypes() []string {
	return []string{"UserDeactivated", "UserReactivated", "UserDormancyWarning", "RecordUserCleared"}
}

// Validate checks an event detail against the schema of its detail type.
func Validate(detailType string, detail []byte) error {
	compileOnce.Do(compile)
	if compileErr != nil {
		return compileErr
	}
	s, ok := compiled[detailType]
	if !ok {
		return fmt.Errorf("no schema for detail type %q", detailType)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(detail))
	if err != nil {
		return fmt.Errorf("%s detail is not JSON: %w", detailType, err)
	}
	if err := s.Validate(doc); err != nil {
		return fmt.Errorf("%s detail: %w", detailType, err)
	}
	return nil
}

// Sample returns a sample payload by file name ("cognito-pre-authentication.json").
func Sample(name string) ([]byte, error) { return samples.ReadFile(name) }

// Samples lists the sample payloads.
func Samples() []string {
	entries, _ := samples.ReadDir(".")
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}
