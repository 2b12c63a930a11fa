package server

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/medbridge/medbridge/fhir"
)

// jsonPatch is a JSON Patch document (RFC 6902): add, remove, replace,
// move, copy and test, applied in order, all or nothing.
type jsonPatch []jsonPatchOp

type jsonPatchOp struct {
	Op   string  `json:"op"`
	Path *string `json:"path"`
	From *string `json:"from"`
	// Value is decoded anew for each application: a retried patch must
	// not share values with the document of the failed attempt.
	Value json.RawMessage `json:"value"`
}

// parseJSONPatch reads and checks a JSON Patch document.
func parseJSONPatch(body []byte) (jsonPatch, error) {
	var ops jsonPatch
	if err := json.Unmarshal(body, &ops); err != nil {
		return nil, badPatch(0, "a JSON Patch is an array of operations: %v", err)
	}
	for i, op := range ops {
		n := i + 1
		switch {
		case op.Path == nil:
			return nil, badPatch(n, "%q has no path", op.Op)
		case op.Op == "move" || op.Op == "copy":
			if op.From == nil {
				return nil, badPatch(n, "%s has no from", op.Op)
			}
		case op.Op == "add" || op.Op == "replace" || op.Op == "test":
			if op.Value == nil {
				return nil, badPatch(n, "%s has no value", op.Op)
			}
		case op.Op != "remove":
			return nil, badPatch(n, "op %q is not add, remove, replace, move, copy or test", op.Op)
		}
	}
	return ops, nil
}

func (ops jsonPatch) apply(doc map[string]any) (map[string]any, error) {
	var root any = doc
	for i, op := range ops {
		var err error
		if root, err = op.apply(i+1, root); err != nil {
			return nil, err
		}
	}
	obj, ok := root.(map[string]any)
	if !ok {
		return nil, patchFailed(len(ops), "the patched document is not a resource")
	}
	return obj, nil
}

// apply applies operation n to root and returns the new root.
func (op *jsonPatchOp) apply(n int, root any) (any, error) {
	path, err := pointer(n, *op.Path)
	if err != nil {
		return nil, err
	}
	var value any
	if op.Value != nil {
		if value, err = decodeJSON(op.Value); err != nil {
			return nil, badPatch(n, "value: %v", err)
		}
	}
	switch op.Op {
	case "add":
		return add(n, root, path, value)
	case "remove":
		root, _, err = remove(n, root, path)
		return root, err
	case "replace":
		if root, _, err = remove(n, root, path); err != nil {
			return nil, err
		}
		return add(n, root, path, value)
	case "test":
		cur, err := get(n, root, path)
		if err != nil {
			return nil, err
		}
		if !fhir.JSONEqual(cur, value) {
			return nil, patchFailed(n, "test failed: the value at %q is not the one given", *op.Path)
		}
		return root, nil
	}
	from, err := pointer(n, *op.From)
	if err != nil {
		return nil, err
	}
	if op.Op == "move" {
		if len(path) > len(from) && strings.HasPrefix(*op.Path, *op.From+"/") {
			return nil, patchFailed(n, "cannot move %q into itself", *op.From)
		}
		if root, value, err = remove(n, root, from); err != nil {
			return nil, err
		}
		return add(n, root, path, value)
	}
	v, err := get(n, root, from)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(v) // a deep copy
	if err != nil {
		return nil, err
	}
	if value, err = decodeJSON(b); err != nil {
		return nil, err
	}
	return add(n, root, path, value)
}

// pointer splits a JSON Pointer (RFC 6901) into its unescaped tokens.
func pointer(n int, p string) ([]string, error) {
	if p == "" {
		return nil, nil
	}
	if !strings.HasPrefix(p, "/") {
		return nil, badPatch(n, "path %q is not a JSON Pointer (it must start with /)", p)
	}
	tokens := strings.Split(p[1:], "/")
	for i, t := range tokens {
		tokens[i] = strings.ReplaceAll(strings.ReplaceAll(t, "~1", "/"), "~0", "~")
	}
	return tokens, nil
}

// arrayIndex reads an array index token; end allows the index one past
// the last element (where add inserts at the end).
func arrayIndex(n int, token string, length int, end bool) (int, error) {
	if token == "-" && end {
		return length, nil
	}
	i, err := strconv.Atoi(token)
	if err != nil || i < 0 || (token != "0" && strings.HasPrefix(token, "0")) || i > length || (i == length && !end) {
		return 0, patchFailed(n, "%q is not an index of an array of %d", token, length)
	}
	return i, nil
}

// edit replaces the container that holds the last token of path with
// what change makes of it, and returns the new root.
func edit(n int, root any, path []string, change func(container any, token string) (any, error)) (any, error) {
	if len(path) == 1 {
		return change(root, path[0])
	}
	switch node := root.(type) {
	case map[string]any:
		child, ok := node[path[0]]
		if !ok {
			return nil, patchFailed(n, "there is no member %q", path[0])
		}
		v, err := edit(n, child, path[1:], change)
		if err != nil {
			return nil, err
		}
		node[path[0]] = v
		return node, nil
	case []any:
		i, err := arrayIndex(n, path[0], len(node), false)
		if err != nil {
			return nil, err
		}
		v, err := edit(n, node[i], path[1:], change)
		if err != nil {
			return nil, err
		}
		node[i] = v
		return node, nil
	}
	return nil, patchFailed(n, "%q is inside a value that is neither an object nor an array", path[0])
}

// add is the add operation.
func add(n int, root any, path []string, value any) (any, error) {
	if len(path) == 0 {
		return value, nil
	}
	return edit(n, root, path, func(container any, token string) (any, error) {
		switch node := container.(type) {
		case map[string]any:
			node[token] = value
			return node, nil
		case []any:
			i, err := arrayIndex(n, token, len(node), true)
			if err != nil {
				return nil, err
			}
			return append(node[:i], append([]any{value}, node[i:]...)...), nil
		}
		return nil, patchFailed(n, "cannot add %q to a value that is neither an object nor an array", token)
	})
}

// remove is the remove operation; it also returns the removed value.
func remove(n int, root any, path []string) (any, any, error) {
	if len(path) == 0 {
		return nil, nil, patchFailed(n, "cannot remove the whole resource")
	}
	var removed any
	root, err := edit(n, root, path, func(container any, token string) (any, error) {
		switch node := container.(type) {
		case map[string]any:
			v, ok := node[token]
			if !ok {
				return nil, patchFailed(n, "there is no member %q", token)
			}
			removed = v
			delete(node, token)
			return node, nil
		case []any:
			i, err := arrayIndex(n, token, len(node), false)
			if err != nil {
				return nil, err
			}
			removed = node[i]
			return append(node[:i], node[i+1:]...), nil
		}
		return nil, patchFailed(n, "cannot remove %q from a value that is neither an object nor an array", token)
	})
	return root, removed, err
}

// get returns the value at path.
func get(n int, root any, path []string) (any, error) {
	cur := root
	for _, token := range path {
		switch node := cur.(type) {
		case map[string]any:
			v, ok := node[token]
			if !ok {
				return nil, patchFailed(n, "there is no member %q", token)
			}
			cur = v
		case []any:
			i, err := arrayIndex(n, token, len(node), false)
			if err != nil {
				return nil, err
			}
			cur = node[i]
		default:
			return nil, patchFailed(n, "%q is inside a value that is neither an object nor an array", token)
		}
	}
	return cur, nil
}
