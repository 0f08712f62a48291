package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
)

// Log formats.
const (
	LogFormatText = "text"
	LogFormatJSON = "json"
)

// NewLogger returns the service's logger: slog's text or JSON handler on w
// at level, adding the request id of the context (WithRequestID) to every
// record logged with one.
func NewLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q is not debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	var h slog.Handler
	switch format {
	case LogFormatText, "":
		h = slog.NewTextHandler(w, opts)
	case LogFormatJSON:
		h = slog.NewJSONHandler(w, opts)
	default:
		return nil, fmt.Errorf("log format %q is not text or json", format)
	}
	return slog.New(requestIDHandler{h}), nil
}

type requestIDKey struct{}

// WithRequestID returns ctx carrying the id of the request it serves.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the request id that ctx carries, or "".
func RequestID(ctx context.Context) string {
	if ctx == nil {
		return ""
	}
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// requestIDHandler adds request_id from the context to records that do
// not carry one already.
type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestID(ctx); id != "" {
		has := false
		r.Attrs(func(a slog.Attr) bool {
			has = a.Key == "request_id"
			return !has
		})
		if !has {
			r.AddAttrs(slog.String("request_id", id))
		}
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(as)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}

// libraryLogger receives the messages that libraries print on their own
// (database drivers, the HTTP framework); see SetLibraryLogger.
var libraryLogger atomic.Pointer[slog.Logger]

// SetLibraryLogger sets the logger behind LibraryLogger. The libraries'
// loggers are process-wide, so this is too: the last call wins.
func SetLibraryLogger(l *slog.Logger) { libraryLogger.Store(l) }

// LibraryLogger returns the logger set by SetLibraryLogger, or slog's default.
func LibraryLogger() *slog.Logger {
	if l := libraryLogger.Load(); l != nil {
		return l
	}
	return slog.Default()
}

// LibraryPrintf logs a library's printf-style message at level, marked with
// the library's name.
func LibraryPrintf(ctx context.Context, level slog.Level, library, format string, args ...any) {
	if ctx == nil {
		ctx = context.Background()
	}
	msg := strings.TrimSpace(fmt.Sprintf(format, args...))
	LibraryLogger().Log(ctx, level, msg, "library", library)
}
