//go:build !linux

package netstate

import (
	"context"
	"log/slog"
)

func subscribe(context.Context, *slog.Logger) <-chan struct{} { return nil }

func lowerUp(string) (up, ok bool) { return false, false }
