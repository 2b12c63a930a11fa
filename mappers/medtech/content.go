package medtech

import (
	"fmt"
	"strings"
	"time"
)

// Device-content template types.
const (
	jsonPathContent    = "JsonPathContent"
	iotJSONPathContent = "IotJsonPathContent"
	calculatedContent  = "CalculatedContent"
)

// contentTemplate is a compiled device-content template: it finds the
// measurements of one type in a message.
type contentTemplate struct {
	kind     string
	typeName string
	// where is the template's place, for errors: "devicecontent.json $.template[0]".
	where string
	// matchedToken: expressions see the message with the match added as
	// matchedToken (CalculatedContent) rather than the match alone.
	matchedToken                                 bool
	typeMatch, deviceID, timestamp, altTimestamp *expression
	patientID, encounterID, correlationID        *expression
	values                                       []valueExpression
}

type valueExpression struct {
	name     string
	expr     *expression
	required bool
}

// IoT Hub puts the device id and the times here (iomt-fhir's
// IotJsonPathContentTemplate).
const (
	iotDeviceID     = "$.SystemProperties.iothub-connection-device-id"
	iotCreationTime = "$.Properties.iothub-creation-time-utc"
	iotEnqueuedTime = "$.SystemProperties.iothub-enqueuedtime"
)

// parseDeviceContent compiles devicecontent.json.
func parseDeviceContent(fe *fileErrors, root any) []*contentTemplate {
	o := asObject(fe, "$", root)
	if o == nil {
		return nil
	}
	defer o.done()
	if tt := o.str("templateType", true); tt != "" && !templateType(tt, "CollectionContent") {
		fe.add(member("$", "templateType"), "expected CollectionContent, found %q", tt)
		o.skip()
		return nil
	}
	list, path := o.array("template", true)
	var out []*contentTemplate
	for i, item := range list {
		if t := parseContent(fe, index(path, i), item); t != nil {
			out = append(out, t)
		}
	}
	return out
}

func parseContent(fe *fileErrors, path string, v any) *contentTemplate {
	c := asObject(fe, path, v)
	if c == nil {
		return nil
	}
	defer c.done()
	tt := c.str("templateType", true)
	t := &contentTemplate{where: fe.file + " " + path}
	switch {
	case templateType(tt, jsonPathContent):
		t.kind = jsonPathContent
	case templateType(tt, iotJSONPathContent):
		t.kind = iotJSONPathContent
	case templateType(tt, calculatedContent):
		t.kind, t.matchedToken = calculatedContent, true
	case tt != "":
		fe.add(member(path, "templateType"), "unknown template type %q (known: CalculatedContent, JsonPathContent, IotJsonPathContent)", tt)
		c.skip()
		return nil
	default:
		c.skip()
		return nil
	}
	v, bodyPath, ok := c.get("template")
	if !ok {
		fe.add(bodyPath, "missing")
		return nil
	}
	o := asObject(fe, bodyPath, v)
	if o == nil {
		return nil
	}
	defer o.done()
	n := len(fe.errs)
	t.typeName = o.str("typeName", true)
	lang := langJSONPath
	if t.kind == calculatedContent {
		if l := o.str("defaultExpressionLanguage", false); l != "" {
			if lang = language(l); lang == "" {
				_, p, _ := o.get("defaultExpressionLanguage")
				fe.add(p, "unknown expression language %q (known: JsonPath, JmesPath)", l)
				lang = langJSONPath
			}
		}
	}
	expr := func(name string, required bool) *expression {
		return t.expression(o, name, lang, required)
	}
	t.typeMatch = expr("typeMatchExpression", true)
	if t.kind == iotJSONPathContent {
		t.deviceID, _ = compileExpression(iotDeviceID, langJSONPath)
		t.timestamp, _ = compileExpression(iotCreationTime, langJSONPath)
		t.altTimestamp, _ = compileExpression(iotEnqueuedTime, langJSONPath)
	} else {
		t.deviceID = expr("deviceIdExpression", true)
		t.timestamp = expr("timestampExpression", true)
	}
	t.patientID = expr("patientIdExpression", false)
	if _, p, ok := o.get("patientIdExpression"); !ok {
		fe.add(p, "missing: medbridge needs the patient in every message (it does not take the patient from the Device resource as iomt-fhir's Lookup mode does)")
	}
	t.encounterID = expr("encounterIdExpression", false)
	t.correlationID = expr("correlationIdExpression", false)
	values, valuesPath := o.array("values", false)
	seen := map[string]bool{}
	for i, item := range values {
		vo := asObject(fe, index(valuesPath, i), item)
		if vo == nil {
			continue
		}
		ve := valueExpression{name: vo.str("valueName", true), required: vo.boolean("required")}
		ve.expr = t.expression(vo, "valueExpression", lang, true)
		if ve.name != "" && seen[ve.name] {
			_, p, _ := vo.get("valueName")
			fe.add(p, "value %q is extracted twice", ve.name)
		}
		seen[ve.name] = true
		vo.done()
		t.values = append(t.values, ve)
	}
	if len(fe.errs) > n {
		return nil
	}
	return t
}

// expression compiles member name of o: a string in the template's
// language or, in a CalculatedContent template, {"value", "language"}.
func (t *contentTemplate) expression(o *object, name, lang string, required bool) *expression {
	v, path, ok := o.get(name)
	if !ok {
		if required {
			o.fe.add(path, "missing")
		}
		return nil
	}
	src, isString := v.(string)
	if !isString {
		eo, isObject := v.(map[string]any)
		if !isObject || !t.matchedToken {
			o.fe.add(path, "expected a string, found %s", describe(v))
			return nil
		}
		e := asObject(o.fe, path, eo)
		defer e.done()
		if src = e.str("value", true); src == "" {
			return nil
		}
		if l := e.str("language", false); l != "" {
			if lang = language(l); lang == "" {
				_, p, _ := e.get("language")
				o.fe.add(p, "unknown expression language %q (known: JsonPath, JmesPath)", l)
				return nil
			}
		}
		path = member(path, "value")
	}
	x, err := compileExpression(src, lang)
	if err != nil {
		o.fe.add(path, "%v", err)
		return nil
	}
	return x
}

func language(s string) string {
	for _, l := range []string{langJSONPath, langJMESPath} {
		if strings.EqualFold(s, l) {
			return l
		}
	}
	return ""
}

// measurement is what a content template extracts from one match.
type measurement struct {
	t                                       *contentTemplate
	device, patient, encounter, correlation string
	time                                    time.Time
	values                                  []namedValue
}

type namedValue struct {
	name, value string
	// src is the expression the value came from, for errors.
	src string
}

// measurements appends the measurements of t in msg.
func (t *contentTemplate) measurements(msg any, out []measurement) ([]measurement, error) {
	matches, err := t.typeMatch.all(msg)
	if err != nil {
		return nil, t.errorf("typeMatchExpression %v", err)
	}
	for _, match := range matches {
		scope := match
		if t.matchedToken {
			scope = withMatchedToken(msg, match)
		}
		m, err := t.extract(scope)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// withMatchedToken is the message with the match added as matchedToken.
func withMatchedToken(msg, match any) any {
	m, ok := msg.(map[string]any)
	if !ok {
		return map[string]any{"matchedToken": match}
	}
	scope := make(map[string]any, len(m)+1)
	for k, v := range m {
		scope[k] = v
	}
	scope["matchedToken"] = match
	return scope
}

func (t *contentTemplate) errorf(format string, args ...any) error {
	return fmt.Errorf("%s (%s): %s", t.typeName, t.where, fmt.Sprintf(format, args...))
}

func (t *contentTemplate) extract(scope any) (measurement, error) {
	m := measurement{t: t}
	var err error
	if m.device, err = t.text(scope, "deviceIdExpression", t.deviceID, true); err != nil {
		return m, err
	}
	if m.patient, err = t.text(scope, "patientIdExpression", t.patientID, true); err != nil {
		return m, err
	}
	if m.encounter, err = t.text(scope, "encounterIdExpression", t.encounterID, false); err != nil {
		return m, err
	}
	if m.correlation, err = t.text(scope, "correlationIdExpression", t.correlationID, t.correlationID != nil); err != nil {
		return m, err
	}
	if m.time, err = t.when(scope); err != nil {
		return m, err
	}
	m.values = make([]namedValue, 0, len(t.values))
	for _, ve := range t.values {
		s, err := t.text(scope, "value "+fmt.Sprintf("%q", ve.name), ve.expr, ve.required)
		if err != nil {
			return m, err
		}
		if s != "" {
			m.values = append(m.values, namedValue{name: ve.name, value: s, src: ve.expr.src})
		}
	}
	return m, nil
}

// text evaluates e to a string ("" when absent); required: absent, null
// and blank are errors.
func (t *contentTemplate) text(scope any, what string, e *expression, required bool) (string, error) {
	if e == nil {
		return "", nil
	}
	v, err := e.one(scope)
	if err != nil {
		return "", t.errorf("%s: %v", what, err)
	}
	s, ok := scalarText(v)
	if !ok {
		return "", t.errorf("%s %s: found %s, expected a single value", what, e.src, describe(v))
	}
	if strings.TrimSpace(s) == "" {
		if required {
			return "", t.errorf("%s %s: no value in the message (missing, null or blank)", what, e.src)
		}
		return "", nil
	}
	return s, nil
}

// when evaluates the timestamp (IoT Hub: creation time, else enqueued time).
func (t *contentTemplate) when(scope any) (time.Time, error) {
	e := t.timestamp
	v, err := e.one(scope)
	if err == nil && v == nil && t.altTimestamp != nil {
		e = t.altTimestamp
		v, err = e.one(scope)
	}
	if err != nil {
		return time.Time{}, t.errorf("timestampExpression: %v", err)
	}
	if v == nil {
		src := e.src
		if t.altTimestamp != nil {
			src = iotCreationTime + " or " + iotEnqueuedTime
		}
		return time.Time{}, t.errorf("timestampExpression %s: no value in the message", src)
	}
	ts, err := parseTimestamp(v)
	if err != nil {
		return time.Time{}, t.errorf("timestampExpression %s: %v", e.src, err)
	}
	return ts, nil
}
