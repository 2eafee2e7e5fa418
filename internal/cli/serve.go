package cli

import (
	"context"
	"crypto/x509"
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
	"slices"
	"strings"
	"syscall"

	"github.com/signet/signet/internal/config"
	"github.com/signet/signet/internal/server"
)

func serve(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	dataDir := fs.String("data-dir", "", "data directory (default ./signet-data)")
	listen := fs.String("listen", "", "listen address (default 127.0.0.1:9090)")
	cfgFile := fs.String("config", "", "YAML configuration file (default DATA_DIR/signet.yaml if present)")
	checkOnly := fs.Bool("check-config", false, "validate the configuration (and the files it names) and exit")
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
	if *checkOnly {
		if err := cfg.Validate(); err != nil {
			return &exitError{1, fmt.Errorf("configuration %s is not valid:\n%w", orDefaults(path), err)}
		}
		if err := server.CheckBuild(cfg); err != nil {
			return &exitError{1, fmt.Errorf("configuration %s cannot run on this build: %w", orDefaults(path), err)}
		}
		if err := cfg.CheckFiles(); err != nil {
			return &exitError{1, fmt.Errorf("configuration %s names files that do not load:\n%w", orDefaults(path), err)}
		}
		fmt.Fprintf(stderr, "signet: configuration %s is valid\n", orDefaults(path))
		return nil
	}
	level := new(slog.LevelVar)
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		return fmt.Errorf("log_level: %w", err)
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}))

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	// SIGHUP is caught from here on (a reload asked for while the server
	// opens waits for it), rather than ending the process.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	// SIGHUP reloads what can change without a restart.
	reload := func(srv *server.Server) {
		next := config.Defaults()
		if path != "" {
			var err error
			if next, err = config.Load(path); err != nil {
				log.ErrorContext(ctx, "SIGHUP: configuration not reloaded", "err", err)
				return
			}
		}
		if *dataDir != "" || path == "" {
			next.DataDir = cfg.DataDir
		}
		if *listen != "" {
			next.Listen = *listen
		}
		if err := srv.Reload(ctx, next); err != nil {
			var restart *server.RestartNeededError
			if !errors.As(err, &restart) {
				log.ErrorContext(ctx, "SIGHUP: configuration not reloaded", "err", err)
				return
			}
			log.WarnContext(ctx, "SIGHUP: "+err.Error())
		}
		level.UnmarshalText([]byte(next.LogLevel)) // validated by Reload
	}
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
	// Reloads end before the server closes.
	reloadCtx, stopReloads := context.WithCancel(ctx)
	reloadsDone := make(chan struct{})
	go func() {
		defer close(reloadsDone)
		for {
			select {
			case <-reloadCtx.Done():
				return
			case <-hup:
				reload(srv)
			}
		}
	}()
	defer func() { stopReloads(); <-reloadsDone }()
	creds, _ := filepath.Abs(srv.CredentialsPath())
	data, _ := filepath.Abs(cfg.DataDir)
	scheme, caFlag := "http", ""
	if cfg.TLS.Enabled() {
		scheme = "https"
	}
	fmt.Fprintf(stderr, "signet: serving %s://%s (account %s, data in %s)\n", scheme, l.Addr(), srv.AccountID(), data)
	if cfg.TLS.Enabled() {
		fmt.Fprintf(stderr, "signet: the same port answers plain http only for CRLs, OCSP, certificates and /healthz\n")
	}
	if srv.TLSCA() != nil && cfg.TLS.Mode == config.TLSSelf {
		ca, _ := filepath.Abs(srv.TLSCAPath())
		fmt.Fprintf(stderr, "signet: TLS certificate issued by Signet's TLS CA for %s; CA bundle: %s (SHA-256 fingerprint %s)\n",
			strings.Join(certNames(srv.ListenerCertificate()), ", "), ca, server.Fingerprint(srv.TLSCA()))
		caFlag = " --ca-bundle " + ca
	}
	fmt.Fprintf(stderr, "signet: administrator credentials: %s\nsignet: try: AWS_SHARED_CREDENTIALS_FILE=%s aws --endpoint-url %s://%s%s signer list-signing-platforms\n",
		creds, creds, scheme, l.Addr(), caFlag)
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

// orDefaults names a configuration file, or the embedded defaults.
func orDefaults(path string) string {
	if path == "" {
		return "(embedded defaults)"
	}
	return path
}

// certNames are the DNS names and addresses a certificate is for.
func certNames(c *x509.Certificate) []string {
	if c == nil {
		return nil
	}
	names := slices.Clone(c.DNSNames)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	return names
}
