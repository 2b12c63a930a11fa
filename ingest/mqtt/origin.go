package mqtt

import "context"

// Origin is where a message handed to a Handler came from, for its audit
// record: the subscriber's session, the broker and the message's topic.
type Origin struct {
	// ClientID is the subscriber's MQTT client id (Config.ClientID).
	ClientID string
	// Broker is Config.URL without credentials.
	Broker string
	Topic  string
}

type originKey struct{}

// OriginOf returns the Origin of the message whose Handler got ctx.
func OriginOf(ctx context.Context) (Origin, bool) {
	o, ok := ctx.Value(originKey{}).(Origin)
	return o, ok
}

func withOrigin(ctx context.Context, o Origin) context.Context {
	return context.WithValue(ctx, originKey{}, o)
}
