// Package dormancy at the module root holds only the OpenAPI document of the
// REST API, embedded so tests (and tools) can read it.
package dormancy

import _ "embed"

// OpenAPI is openapi.yaml.
//
//go:embed openapi.yaml
var OpenAPI []byte
