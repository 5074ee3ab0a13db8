// kstatus computes an object's kstatus result with sigs.k8s.io/cli-utils pkg/kstatus/status — the library Flux's
// kustomize-controller and helm-controller use for `wait` and `healthChecks` — and prints it as JSON
// ({"status":"Current|InProgress|Failed|Terminating|...","message":...}). It reads the object as JSON on stdin.
//
// Usage: kstatus < object.json
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

func main() {
	input, err := io.ReadAll(os.Stdin)
	if err != nil {
		fail("reading the object: %v", err)
	}
	var obj unstructured.Unstructured
	if err := obj.UnmarshalJSON(input); err != nil {
		fail("decoding the object: %v", err)
	}
	result, err := status.Compute(&obj)
	if err != nil {
		fail("computing the status: %v", err)
	}
	out := map[string]string{"status": result.Status.String(), "message": result.Message}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fail("writing the result: %v", err)
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "kstatus: "+format+"\n", args...)
	os.Exit(1)
}
