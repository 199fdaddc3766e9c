// Command ftrack-emulator serves the ftracktest ftrack API emulator on a
// loopback address for demos and manual tests.
//
//	ftrack-emulator -listen 127.0.0.1:0 -api-user USER -api-key KEY [-data FILE] [-seed FILE]
//
// It prints "ftrack emulator listening on http://HOST:PORT" (and writes the
// URL to -url-file if given), loads -data at start when the file exists and
// saves it atomically on SIGINT/SIGTERM before exiting 0. -seed FILE starts
// from the entities of FILE instead and never writes it (a fixture to try
// things on; with -data too, -data wins once it exists). Like a real site it
// has an active User for -api-user from the start (added to a file that
// lacks one).
//
// Both files have the format Save writes: one object "entities" mapping
// an entity type to its rows, each row an object of the type's attributes
// as the API returns them (ids are UUID strings; a row without one gets a
// new id; references such as Metadata.parent_id and Membership.user_id
// must name rows of the file):
//
//	{"entities": {
//	  "User": [{"id": "6f0c…", "username": "jdoe", "email": "jdoe@example.com",
//	            "first_name": "John", "last_name": "Doe", "is_active": true}],
//	  "Group": [{"id": "9a1e…", "name": "Artists"}],
//	  "Membership": [{"id": "c3d2…", "user_id": "6f0c…", "group_id": "9a1e…"}],
//	  "Metadata": [{"parent_id": "6f0c…", "parent_type": "User", "key": "ldapsync.owner", "value": "users"}]
//	}}
//
// Every row is checked as a create would be (types, required attributes,
// references, unique usernames); a file with a bad row is refused, naming
// it, and the emulator does not start.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/ldapsync/ldapsync/providers/ftrack/ftracktest"
	"github.com/ldapsync/ldapsync/state/atomicfile"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ftrack-emulator", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:0", "address to listen on (port 0 picks a free port)")
	apiUser := fs.String("api-user", "", "API user every request must send in ftrack-user (required)")
	apiKey := fs.String("api-key", "", "API key every request must send in ftrack-api-key (required; or env FTRACK_EMULATOR_API_KEY)")
	dataPath := fs.String("data", "", "JSON data file: loaded at start if present, saved on shutdown")
	urlFile := fs.String("url-file", "", "write the base URL to this file once listening")
	version := fs.String("version", "", "version reported by query_server_information (default \"dev\")")
	latency := fs.Duration("latency", 0, "latency added to every request")
	rateEvery := fs.Int("rate-limit-every", 0, "answer every Nth request with 429")
	retryAfter := fs.Duration("retry-after", time.Second, "Retry-After announced with 429 (rounded up to seconds; negative sends 0)")
	errorRate := fs.Float64("error-rate", 0, "fraction of requests answered 503")
	seedFile := fs.String("seed", "", "JSON file of entities to start from (the -data format); never written")
	errorSeed := fs.Int64("error-seed", 1, "seed for -error-rate")
	dropAfter := fs.Int("drop-after-operations", 0, "drop the connection once after this many operations (batch applied)")
	verbose := fs.Bool("verbose", false, "log one line per request to stderr")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *apiKey == "" {
		*apiKey = os.Getenv("FTRACK_EMULATOR_API_KEY")
	}
	if *apiUser == "" || *apiKey == "" {
		fmt.Fprintln(stderr, "ftrack-emulator: -api-user and -api-key are required")
		return 2
	}
	if *errorRate < 0 || *errorRate > 1 {
		fmt.Fprintln(stderr, "ftrack-emulator: -error-rate must be between 0 and 1")
		return 2
	}

	opts := ftracktest.Options{APIUser: *apiUser, APIKey: *apiKey, Version: *version}
	if *verbose {
		logger := log.New(stderr, "ftrack-emulator: ", log.LstdFlags)
		opts.Log = logger.Printf
	}
	emu := ftracktest.New(opts)
	emu.SetFaults(ftracktest.Faults{
		Latency:             *latency,
		RateLimitEvery:      *rateEvery,
		RetryAfter:          *retryAfter,
		ErrorRate:           *errorRate,
		Seed:                *errorSeed,
		DropAfterOperations: *dropAfter,
	})
	if *seedFile != "" {
		if err := emu.Load(*seedFile); err != nil {
			fmt.Fprintf(stderr, "ftrack-emulator: -seed: %v\n", err)
			return 1
		}
	}
	if *dataPath != "" {
		if _, err := os.Stat(*dataPath); err == nil {
			if err := emu.Load(*dataPath); err != nil {
				fmt.Fprintf(stderr, "ftrack-emulator: %v\n", err)
				return 1
			}
		} else if !errors.Is(err, os.ErrNotExist) {
			fmt.Fprintf(stderr, "ftrack-emulator: data file: %v\n", err)
			return 1
		}
	}

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(stderr, "ftrack-emulator: listen %s: %v\n", *listen, err)
		return 1
	}
	url := "http://" + ln.Addr().String()
	if *urlFile != "" {
		if err := atomicfile.WriteFile(*urlFile, []byte(url+"\n"), 0o644); err != nil {
			fmt.Fprintf(stderr, "ftrack-emulator: url file: %v\n", err)
			ln.Close()
			return 1
		}
	}
	fmt.Fprintf(stdout, "ftrack emulator listening on %s\n", url)

	srv := &http.Server{Handler: emu, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	code := 0
	select {
	case <-ctx.Done():
	case err := <-serveErr:
		fmt.Fprintf(stderr, "ftrack-emulator: serve: %v\n", err)
		code = 1
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdownCtx)
	if *dataPath != "" {
		if err := emu.Save(*dataPath); err != nil {
			fmt.Fprintf(stderr, "ftrack-emulator: %v\n", err)
			return 1
		}
	}
	return code
}
