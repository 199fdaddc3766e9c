// Command ftrack-emulator serves the ftracktest ftrack API emulator on a
// loopback address for demos and manual tests.
//
//	ftrack-emulator -listen 127.0.0.1:0 -api-user USER -api-key KEY [-data FILE] [-seed FILE]
//	    [-default-role NAME] [-seats N]
//
// It prints "ftrack emulator listening on http://HOST:PORT" (and writes the
// URL to -url-file if given), loads -data at start when the file exists and
// saves it atomically on SIGINT/SIGTERM before exiting 0. -seed FILE starts
// from the entities of FILE instead and never writes it (a fixture to try
// things on; with -data too, -data wins once it exists). Like a real site it
// has an active User for -api-user from the start (added to a file that
// lacks one), with the Administrator security role.
//
// -default-role NAME is the security role every User created through the
// API gets on all open projects (default "User"; "-" for none); it must
// name a role the emulator has once the files are loaded. -seats N limits
// the active Users to N user licences (0, the default: unlimited): a batch
// that activates a User with every seat taken fails with LicenseError.
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
//	  "Metadata": [{"parent_id": "6f0c…", "parent_type": "User", "key": "ldapsync.owner", "value": "users"}],
//	  "Project": [{"id": "5b1a…", "name": "alpha", "full_name": "Alpha", "is_private": false}],
//	  "UserSecurityRole": [{"id": "d4e5…", "user_id": "6f0c…",
//	            "security_role_id": "8b0809de-776a-5f7a-b70c-c0079f979e2a", "is_all_open_projects": false}],
//	  "UserSecurityRoleProject": [{"id": "e6f7…", "user_security_role_id": "d4e5…", "project_id": "5b1a…"}],
//	  "CustomAttributeConfiguration": [{"id": "f8a9…", "key": "department", "label": "Department",
//	            "entity_type": "user", "type_id": "5d6b2cec-41f6-583a-803b-9b7eb20c9f46", "config": "{}"}],
//	  "UserCustomAttributeValue": [{"configuration_id": "f8a9…", "entity_id": "6f0c…", "value": "Lighting"}]
//	}}
//
// Every emulator has the security roles, user types and custom attribute
// types below (a file need not list them; Save writes them), with these
// ids (ftracktest.SecurityRoleID, UserTypeID and CustomAttributeTypeID):
//
//	SecurityRole   Administrator (PROJECT)    8cc82331-f512-51ec-8c98-09ba33e25762
//	               Project Manager (PROJECT)  8b0809de-776a-5f7a-b70c-c0079f979e2a
//	               User (PROJECT)             13df2fc2-641c-52b7-a574-9777309e92d6
//	               Assignee (ASSIGNED)        c1768829-165f-5544-9e6f-26c0b58f5f90
//	               API Key (API)              1ddb4e63-91a1-538b-80c0-2850ba51c9b8
//	UserType       ftrack (the default)       ac9fa5aa-4361-11e0-b7cc-0019bb4983d8
//	               ldap                       69e42424-7af1-5def-988c-c41c058b208d
//	               service                    0c2aa27d-ed29-5c61-b211-6f827f7f2ece
//	               demo                       0fc3177b-700f-51ac-9bf4-e956f106105b
//	CustomAttributeType  text                 5d6b2cec-41f6-583a-803b-9b7eb20c9f46
//	               number                     82c788b5-33d1-5f1f-85f0-14e4686dc618
//	               boolean                    1ef1afca-3e91-5d9c-bfa4-a7f1e4ad7310
//	               date                       8073130c-1224-5dcc-9995-8367aa9123fb
//	               enumerator                 e261b904-4714-5541-a96e-72c530709d9c
//
// Projects and custom attribute configurations come only from these files
// (the API refuses to change them). A UserCustomAttributeValue's key is
// its configuration's; its value must suit the configuration's type:
//
//	text        a string
//	number      a number
//	boolean     true or false
//	date        {"__type__": "datetime", "value": "2026-12-02T10:00:00"}
//	enumerator  a string or a list of strings (one unless multi-select),
//	            among the values config lists, if it lists any:
//	            "config": "{\"multiSelect\": false, \"data\": [{\"menu\": \"Paris\", \"value\": \"paris\"}]}"
//	            (data may also be that list encoded as a JSON string)
//
// Every row is checked as a create would be (types, required attributes,
// references, unique usernames, custom attribute values); a file with a
// bad row is refused, naming it, and the emulator does not start.
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
	"strings"
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
	defaultRole := fs.String("default-role", "User", "security role every User created through the API gets on all open projects (\"-\": none)")
	seats := fs.Int("seats", 0, "user licences: the most active Users a batch may leave (0: unlimited)")
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
	if *seats < 0 {
		fmt.Fprintln(stderr, "ftrack-emulator: -seats must be 0 (unlimited) or more")
		return 2
	}
	if *errorRate < 0 || *errorRate > 1 {
		fmt.Fprintln(stderr, "ftrack-emulator: -error-rate must be between 0 and 1")
		return 2
	}

	opts := ftracktest.Options{APIUser: *apiUser, APIKey: *apiKey, Version: *version, DefaultRole: *defaultRole, Seats: *seats}
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

	if !hasRole(emu, *defaultRole) {
		fmt.Fprintf(stderr, "ftrack-emulator: -default-role: no security role %q (give one the emulator has, or \"-\" for none)\n", *defaultRole)
		return 2
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

// hasRole reports whether the emulator has a SecurityRole called name
// (compared without case, as Options.DefaultRole is), or name asks for
// none.
func hasRole(emu *ftracktest.Emulator, name string) bool {
	if name == ftracktest.NoDefaultRole || name == "" {
		return true
	}
	for _, r := range emu.Entities("SecurityRole") {
		if n, _ := r["name"].(string); strings.EqualFold(n, name) {
			return true
		}
	}
	return false
}
