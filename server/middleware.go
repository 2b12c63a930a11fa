package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
)

const (
	headerRequestID  = "X-Request-Id"
	ctxRequestID     = "medbridge.requestID"
	ctxLogger        = "medbridge.logger"
	ctxBaseLogger    = "medbridge.baseLogger"
	ctxInteraction   = "medbridge.interaction"
	ctxOutcomeStatus = "medbridge.outcomeStatus"
)

var clientRequestID = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// requestIDs gives every request an id (the client's X-Request-Id when it
// is sane, else a random one), echoes it in the response and puts a logger
// carrying it in the context, so every log line of a request names it.
func (s *Server) requestIDs(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := c.Request().Header.Get(headerRequestID)
		if !clientRequestID.MatchString(id) {
			var b [12]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		c.Set(ctxRequestID, id)
		c.Set(ctxBaseLogger, s.log)
		c.Response().Header().Set(headerRequestID, id)
		return next(c)
	}
}

func requestID(c echo.Context) string {
	id, _ := c.Get(ctxRequestID).(string)
	return id
}

// logger returns the request's logger, which names the request id. It is
// built on first use: most requests log nothing at the default level.
func logger(c echo.Context) *slog.Logger {
	if l, ok := c.Get(ctxLogger).(*slog.Logger); ok {
		return l
	}
	base, ok := c.Get(ctxBaseLogger).(*slog.Logger)
	if !ok {
		base = slog.Default()
	}
	l := base.With("request_id", requestID(c))
	c.Set(ctxLogger, l)
	return l
}

// metrics holds the Prometheus collectors of one server.
type metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "medbridge_http_requests_total",
			Help: "HTTP requests by FHIR interaction, resource type and status code.",
		}, []string{"interaction", "type", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "medbridge_http_request_duration_seconds",
			Help:    "HTTP request latency by FHIR interaction and resource type.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"interaction", "type"}),
	}
	reg.MustRegister(m.requests, m.latency)
	return m
}

// observe renders the handler's error (so the status is known), then logs
// the request and records its metrics.
func (s *Server) observe(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		if err := next(c); err != nil {
			c.Error(err)
		}
		elapsed := time.Since(start)
		interaction, _ := c.Get(ctxInteraction).(string)
		if interaction == "" {
			interaction = "other"
		}
		typ := c.Param("type")
		if typ != "" && !s.spec.IsResourceType(typ) {
			typ = "unknown" // keep label cardinality bounded
		}
		status := c.Response().Status
		s.metrics.requests.WithLabelValues(interaction, typ, strconv.Itoa(status)).Inc()
		s.metrics.latency.WithLabelValues(interaction, typ).Observe(elapsed.Seconds())
		level := slog.LevelDebug
		if status >= 500 {
			level = slog.LevelError
		} else if status >= 400 {
			level = slog.LevelInfo
		}
		if !s.log.Enabled(context.Background(), level) {
			return nil
		}
		logger(c).Log(context.Background(), level, "request",
			"method", c.Request().Method, "path", c.Request().URL.Path, "status", status,
			"interaction", interaction, "duration_ms", float64(elapsed.Microseconds())/1000)
		return nil
	}
}

// interaction names the FHIR interaction of a route for logs and metrics,
// and refuses unknown resource types before the handler runs.
func (s *Server) interaction(name string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			c.Set(ctxInteraction, name)
			if typ := c.Param("type"); typ != "" {
				if err := s.checkType(typ); err != nil {
					return err
				}
			}
			return next(c)
		}
	}
}

// limitBody caps request bodies at maxBody bytes; reading past the limit
// fails with *http.MaxBytesError, which the error handler answers with 413.
func (s *Server) limitBody(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		if req.ContentLength > s.maxBody {
			return &http.MaxBytesError{Limit: s.maxBody}
		}
		req.Body = http.MaxBytesReader(c.Response(), req.Body, s.maxBody)
		return next(c)
	}
}
