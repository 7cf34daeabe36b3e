// Command httpold runs the lab's old HTTP shipper transport (package
// bench/httpold), for benchmarks only; it is not part of cis490.
//
//	httpold serve --listen 127.0.0.1:0 --dir DIR   prints "listening http://ADDR", serves until SIGTERM
//	httpold ship --url URL --host HOST --data-dir DIR   one pass; prints a JSON summary
//
// Exit codes: 0 ok, 1 an episode failed or a runtime error, 2 usage error.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/cis490/cis490/bench"
	"github.com/cis490/cis490/bench/httpold"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if len(os.Args) < 2 {
		usage()
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	listen := fs.String("listen", "127.0.0.1:0", "serve: address to listen on")
	dir := fs.String("dir", "", "serve: directory to store episodes in")
	url := fs.String("url", "", "ship: receiver base URL")
	host := fs.String("host", "", "ship: lab host id")
	dataDir := fs.String("data-dir", "", "ship: directory holding episodes/")
	fs.Parse(os.Args[2:])
	switch os.Args[1] {
	case "serve":
		if *dir == "" {
			usage()
		}
		ln, err := net.Listen("tcp", *listen)
		if err != nil {
			fail(err)
		}
		fmt.Printf("listening http://%s\n", ln.Addr())
		if err := httpold.Serve(ctx, ln, &httpold.Receiver{Dir: *dir}); err != nil {
			fail(err)
		}
	case "ship":
		if *url == "" || *host == "" || *dataDir == "" {
			usage()
		}
		s, err := httpold.Ship(ctx, httpold.ShipOptions{URL: *url, Host: *host, DataDir: *dataDir})
		fmt.Println(httpold.MarshalSummary(s))
		bench.PrintPeakRSS(os.Stdout)
		if err != nil {
			fail(err)
		}
	default:
		usage()
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: httpold serve --dir DIR [--listen ADDR] | httpold ship --url URL --host HOST --data-dir DIR")
	os.Exit(2)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "httpold:", err)
	os.Exit(1)
}
