package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/signet/signet/internal/config"
	"github.com/signet/signet/internal/server"
)

func serve(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	dataDir := fs.String("data-dir", "", "data directory (default ./signet-data)")
	listen := fs.String("listen", "", "listen address (default 127.0.0.1:9090)")
	cfgFile := fs.String("config", "", "YAML configuration file (default DATA_DIR/signet.yaml if present)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError("serve takes no arguments, got %q", pos[0])
	}
	cfg := config.Defaults()
	dir := *dataDir
	if dir == "" {
		dir = cfg.DataDir
	}
	path := *cfgFile
	if path == "" {
		if _, err := os.Stat(filepath.Join(dir, "signet.yaml")); err == nil {
			path = filepath.Join(dir, "signet.yaml")
		}
	}
	if path != "" {
		if cfg, err = config.Load(path); err != nil {
			return err
		}
	}
	if *dataDir != "" {
		cfg.DataDir = *dataDir
	}
	if *listen != "" {
		cfg.Listen = *listen
	}
	level := new(slog.LevelVar)
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		return fmt.Errorf("log_level: %w", err)
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}))

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Listen first: a taken port must fail before the data directory is
	// created or opened.
	l, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return &hintError{fmt.Errorf("failed to listen on %s: %w", cfg.Listen, err),
			[]string{"is another 'signet serve' (or another program) using it? choose another address with --listen, e.g. --listen 127.0.0.1:9091, and pass it to clients as --endpoint"}}
	}
	defer l.Close()
	var al net.Listener
	if cfg.Admission.Listen != "" {
		if al, err = net.Listen("tcp", cfg.Admission.Listen); err != nil {
			return &hintError{fmt.Errorf("failed to listen on %s (admission.listen): %w", cfg.Admission.Listen, err),
				[]string{"choose another admission.listen address in the configuration"}}
		}
		defer al.Close()
	}
	srv, err := server.Open(ctx, cfg, log)
	if err != nil {
		if errors.Is(err, server.ErrDataDirInUse) {
			return &exitError{1, err}
		}
		return err
	}
	defer srv.Close()
	creds, _ := filepath.Abs(srv.CredentialsPath())
	data, _ := filepath.Abs(cfg.DataDir)
	fmt.Fprintf(stderr, "signet: serving http://%s (account %s, data in %s)\nsignet: administrator credentials: %s\nsignet: try: AWS_SHARED_CREDENTIALS_FILE=%s aws --endpoint-url http://%s signer list-signing-platforms\n",
		l.Addr(), srv.AccountID(), data, creds, creds, l.Addr())
	if srv.Invoke != nil && srv.Invoke.Pool == nil {
		fmt.Fprintf(stderr, "signet: functions cannot run here (%v); everything else works, and Invoke answers ServiceException (HTTP 501)\n", srv.Invoke.Unavailable)
	}
	log.InfoContext(ctx, "serving", "addr", l.Addr().String(), "data_dir", cfg.DataDir)
	if al == nil {
		return srv.Serve(ctx, l)
	}
	fmt.Fprintf(stderr, "signet: admission webhooks on https://%s (POST /validate, /mutate; %d policies); print their configuration with: signet admission config --url https://HOST:PORT\n",
		al.Addr(), len(cfg.Admission.Policies))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	admErr := make(chan error, 1)
	go func() {
		err := srv.ServeAdmission(ctx, al)
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			cancel() // a server without its webhooks stops, rather than fail open unseen
		}
		admErr <- err
	}()
	err = srv.Serve(ctx, l)
	cancel()
	if aerr := <-admErr; err == nil && aerr != nil && !errors.Is(aerr, http.ErrServerClosed) {
		err = aerr
	}
	return err
}
