// Go interop harness for Tandem (issue 8). NOT used by CI: a manual
// measurement tool, built in /tmp against the Go library
// (astromechza/automerge-ndjson-sync) and automerge-go.
//
//	goharness serve  -addr 127.0.0.1:P -tlsaddr 127.0.0.1:Q   Go server (h1+h2c plain, h1+h2 TLS)
//	goharness bench  -url U -proto h1|h2|h2c -n N -m M          N live clients × M changes
//	goharness latency -url U -proto P -rounds R                 edit→peer p50/p99 with 2 clients
//	goharness pull   -url U -proto P                            fresh client pulls a doc
//	goharness push   -url U -proto P -file F                    client pushes a .automerge file
//	goharness makedoc -n N -out F                               a doc of N changes
package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"flag"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/automerge/automerge-go"

	ndjson "github.com/astromechza/automerge-ndjson-sync"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: goharness serve|bench|latency|pull|push|makedoc ...")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	url := fs.String("url", "", "document URL")
	proto := fs.String("proto", "h1", "h1, h2 (TLS) or h2c")
	n := fs.Int("n", 10, "clients / changes")
	m := fs.Int("m", 10, "changes per client")
	rounds := fs.Int("rounds", 200, "latency rounds")
	file := fs.String("file", "", ".automerge file")
	out := fs.String("out", "", "output file")
	addr := fs.String("addr", "127.0.0.1:0", "plain listen address")
	tlsaddr := fs.String("tlsaddr", "", "TLS listen address")
	serverPid := fs.Int("serverpid", 0, "server pid, for its CPU time")
	timeout := fs.Duration("timeout", 120*time.Second, "give up after")
	verbose := fs.Bool("v", false, "library logs at info")
	fs.StringVar(&token, "token", "", "bearer token to send")
	_ = fs.Parse(os.Args[2:])
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})))
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(*addr, *tlsaddr)
	case "bench":
		err = bench(*url, *proto, *n, *m, *serverPid, *timeout)
	case "latency":
		err = latency(*url, *proto, *rounds, *timeout)
	case "pull":
		err = pull(*url, *proto, *timeout)
	case "push":
		err = push(*url, *proto, *file, *timeout)
	case "makedoc":
		err = makedoc(*n, *out)
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Printf("FAILED: %v\n", err)
		os.Exit(1)
	}
}

var token string

// auth sends -token as a bearer token (Tandem's owner token); the Go
// library's own hook for request headers.
func auth() ndjson.ClientOption {
	return ndjson.WithClientRequestEditor(func(r *http.Request) {
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
	})
}

// transport: http.DefaultTransport's settings (ExpectContinueTimeout 1 s, as
// the library's default http.DefaultClient), one protocol only.
func transport(proto string) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
	p := new(http.Protocols)
	switch proto {
	case "h1":
		p.SetHTTP1(true)
	case "h2":
		p.SetHTTP2(true)
	case "h2c":
		p.SetUnencryptedHTTP2(true)
	default:
		panic("proto must be h1, h2 or h2c")
	}
	t.Protocols = p
	return t
}

func ctxLog(ctx context.Context) context.Context {
	return ndjson.SetContextLogger(ctx, slog.Default())
}

// ---- server ----

func serve(addr, tlsaddr string) error {
	docs := new(sync.Map)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{id}", func(w http.ResponseWriter, r *http.Request) {
		d, ok := docs.Load(r.PathValue("id"))
		if !ok {
			http.Error(w, "not found", 404)
			return
		}
		_, _ = w.Write(d.(*ndjson.SharedDoc).Doc().Save())
	})
	mux.HandleFunc("PUT /{id}", func(w http.ResponseWriter, r *http.Request) {
		d, _ := docs.LoadOrStore(r.PathValue("id"), ndjson.NewSharedDoc(automerge.New()))
		if err := d.(*ndjson.SharedDoc).ServeChanges(w, r); err != nil {
			slog.Error("sync ended with an error", "doc", r.PathValue("id"), "err", err)
		}
	})
	base := func(net.Listener) context.Context { return ctxLog(context.Background()) }
	plainProtocols := new(http.Protocols)
	plainProtocols.SetHTTP1(true)
	plainProtocols.SetUnencryptedHTTP2(true)
	plain := &http.Server{Handler: mux, Protocols: plainProtocols, BaseContext: base}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	fmt.Printf("plain http://%s\n", l.Addr())
	errs := make(chan error, 2)
	go func() { errs <- plain.Serve(l) }()
	if tlsaddr != "" {
		cert, err := selfSigned()
		if err != nil {
			return err
		}
		secure := &http.Server{Handler: mux, BaseContext: base,
			TLSConfig: &tls.Config{Certificates: []tls.Certificate{*cert}}}
		tl, err := net.Listen("tcp", tlsaddr)
		if err != nil {
			return err
		}
		fmt.Printf("tls https://%s\n", tl.Addr())
		go func() { errs <- secure.ServeTLS(tl, "", "") }()
	}
	return <-errs
}

func selfSigned() (*tls.Certificate, error) {
	pk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	cert := &x509.Certificate{
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    time.Now(),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageKeyEncipherment | x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		SerialNumber: big.NewInt(time.Now().UnixNano()),
	}
	der, err := x509.CreateCertificate(rand.Reader, cert, cert, &pk.PublicKey, pk)
	if err != nil {
		return nil, err
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: pk}, nil
}

// ---- live clients ----

type live struct {
	docs   []*ndjson.SharedDoc
	errs   chan error
	cancel context.CancelFunc
}

func goLive(url, proto string, n int) *live {
	ctx, cancel := context.WithCancel(ctxLog(context.Background()))
	l := &live{errs: make(chan error, n), cancel: cancel}
	for i := 0; i < n; i++ {
		sd := ndjson.NewSharedDoc(automerge.New())
		l.docs = append(l.docs, sd)
		client := &http.Client{Transport: transport(proto)}
		go func() {
			l.errs <- sd.HttpPushPullChanges(ctx, url, ndjson.WithHttpClient(client), auth(),
				ndjson.WithClientTerminationCheck(ndjson.NoTerminationCheck))
		}()
	}
	return l
}

func str(d *automerge.Doc, key string) string {
	v, err := d.RootMap().Get(key)
	if err != nil || v.Kind() != automerge.KindStr {
		return ""
	}
	return v.Str()
}

func commit(sd *ndjson.SharedDoc) error {
	if _, err := sd.Doc().Commit("c"); err != nil && err.Error() != "Commit is empty" {
		// "empty": a concurrent receive already committed the pending ops.
		return err
	}
	sd.NotifyReceivedChanges()
	return nil
}

// waitAll polls until check holds on every doc, or a client fails, or the deadline.
func (l *live) waitAll(what string, deadline time.Time, check func(*automerge.Doc) bool) error {
	for {
		ok := true
		for _, sd := range l.docs {
			if !check(sd.Doc()) {
				ok = false
				break
			}
		}
		if ok {
			return nil
		}
		select {
		case err := <-l.errs:
			return fmt.Errorf("%s: a client ended: %v", what, err)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: timed out", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// warm: client 0 creates the text and a marker; everyone live holds it.
func (l *live) warm(deadline time.Time) error {
	d0 := l.docs[0]
	if err := d0.Doc().RootMap().Set("text", automerge.NewText("")); err != nil {
		return err
	}
	if err := d0.Doc().RootMap().Set("warm", "yes"); err != nil {
		return err
	}
	if err := commit(d0); err != nil {
		return err
	}
	return l.waitAll("warm-up", deadline, func(d *automerge.Doc) bool { return str(d, "warm") == "yes" })
}

func cpuSeconds(pid int) float64 {
	if pid == 0 {
		return 0
	}
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100
}

func bench(url, proto string, n, m, pid int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	l := goLive(url, proto, n)
	defer l.cancel()
	if err := l.warm(deadline); err != nil {
		return err
	}
	cpu0 := cpuSeconds(pid)
	start := time.Now()
	var wg sync.WaitGroup
	fail := make(chan error, n)
	for i, sd := range l.docs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := fmt.Sprintf("c%d", i)
			for j := 1; j <= m; j++ {
				d := sd.Doc()
				if err := d.Path("text").Text().Splice(0, 0, "x"); err != nil {
					fail <- err
					return
				}
				if err := d.RootMap().Set(key, strconv.Itoa(j)); err != nil {
					fail <- err
					return
				}
				if err := commit(sd); err != nil {
					fail <- err
					return
				}
			}
		}()
	}
	last := strconv.Itoa(m)
	err := l.waitAll(fmt.Sprintf("%d×%d", n, m), deadline, func(d *automerge.Doc) bool {
		for i := 0; i < n; i++ {
			if str(d, fmt.Sprintf("c%d", i)) != last {
				return false
			}
		}
		return true
	})
	elapsed := time.Since(start)
	wg.Wait()
	select {
	case e := <-fail:
		return e
	default:
	}
	if err != nil {
		return fmt.Errorf("%v (after %v)", err, elapsed)
	}
	fmt.Printf("bench %s %d×%d: %.1f ms", proto, n, m, float64(elapsed.Microseconds())/1000)
	if pid != 0 {
		fmt.Printf(", server CPU %.2f s", cpuSeconds(pid)-cpu0)
	}
	fmt.Println()
	return nil
}

func latency(url, proto string, rounds int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	l := goLive(url, proto, 2)
	defer l.cancel()
	if err := l.warm(deadline); err != nil {
		return err
	}
	a, b := l.docs[0], l.docs[1]
	wake, fin := b.SubscribeToReceivedChanges()
	defer fin()
	var lat []time.Duration
	for r := 1; r <= rounds+10; r++ {
		want := strconv.Itoa(r)
		if err := a.Doc().RootMap().Set("k", want); err != nil {
			return err
		}
		t0 := time.Now()
		if err := commit(a); err != nil {
			return err
		}
		for str(b.Doc(), "k") != want {
			select {
			case <-wake:
			case err := <-l.errs:
				return fmt.Errorf("round %d: a client ended: %v", r, err)
			case <-time.After(10 * time.Second):
				return fmt.Errorf("round %d: no change in 10 s", r)
			}
		}
		if r > 10 { // the first ten warm up
			lat = append(lat, time.Since(t0))
		}
		time.Sleep(5 * time.Millisecond)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	fmt.Printf("latency %s edit→peer over %d rounds: p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
		proto, len(lat), q(0.5), q(0.99), q(1))
	return nil
}

func pull(url, proto string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctxLog(context.Background()), timeout)
	defer cancel()
	doc := automerge.New()
	sd := ndjson.NewSharedDoc(doc)
	start := time.Now()
	err := sd.HttpPushPullChanges(ctx, url, ndjson.WithHttpClient(&http.Client{Transport: transport(proto)}), auth(),
		ndjson.WithClientTerminationCheck(ndjson.HasAllRemoteHeads))
	elapsed := time.Since(start)
	changes, _ := doc.Changes()
	if err != nil {
		return fmt.Errorf("pull after %v, holding %d changes: %v", elapsed, len(changes), err)
	}
	fmt.Printf("pull %s: %d changes in %.2f s\n", proto, len(changes), elapsed.Seconds())
	return nil
}

func push(url, proto, file string, timeout time.Duration) error {
	raw, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	doc, err := automerge.Load(raw)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctxLog(context.Background()), timeout)
	defer cancel()
	sd := ndjson.NewSharedDoc(doc)
	start := time.Now()
	err = sd.HttpPushPullChanges(ctx, url, ndjson.WithHttpClient(&http.Client{Transport: transport(proto)}), auth(),
		ndjson.WithClientTerminationCheck(ndjson.HeadsEqualCheck))
	elapsed := time.Since(start)
	if err != nil {
		return fmt.Errorf("push after %v: %v", elapsed, err)
	}
	fmt.Printf("push %s %s: heads equal after %.2f s\n", proto, file, elapsed.Seconds())
	return nil
}

func makedoc(n int, out string) error {
	doc := automerge.New()
	if err := doc.RootMap().Set("text", automerge.NewText("")); err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		if i > 0 {
			if err := doc.Path("text").Text().Splice(0, 0, "x"); err != nil {
				return err
			}
		}
		if err := doc.RootMap().Set("n", int64(i)); err != nil {
			return err
		}
		if _, err := doc.Commit("c"); err != nil {
			return err
		}
	}
	return os.WriteFile(out, doc.Save(), 0o644)
}
