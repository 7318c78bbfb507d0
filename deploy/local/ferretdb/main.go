// Command residency-ferretdb runs FerretDB v1 (MongoDB wire protocol) with its SQLite
// backend on a loopback address. It embeds FerretDB as a library because the
// `go install`ed ferretdb binary panics on a missing build/version file (FerretDB #2982).
package main

import (
	"context"
	"flag"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:27017", "TCP address to listen on (keep it on loopback)")
	dataDir := flag.String("data", "./data/ferretdb", "folder for the SQLite databases")
	flag.Parse()

	if err := os.MkdirAll(*dataDir, 0o700); err != nil {
		log.Fatalf("create data folder: %v", err)
	}

	db, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: *listen},
		Handler:   "sqlite",
		SQLiteURL: "file:" + *dataDir + "/",
	})
	if err != nil {
		log.Fatalf("configure ferretdb: %v", err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	log.Printf("ferretdb listening on %s, data in %s", *listen, *dataDir)
	if err := db.Run(ctx); err != nil && ctx.Err() == nil {
		log.Fatalf("ferretdb stopped: %v", err)
	}
}
