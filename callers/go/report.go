// Report one conversion to the function's URL, signed as the README's "Signing" section says.
//
//	URL=https://... REPORT_SIGNING_SECRET=... go run report.go '{"SmsSdkAppId": "1400006666", "SerialNo": "..."}'
//
// Standard library only. Exit status: 0 for a 2xx answer, 1 otherwise, 2 when it could not ask.
package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"
)

func main() {
	url, secret := os.Getenv("URL"), os.Getenv("REPORT_SIGNING_SECRET")
	if url == "" || secret == "" || len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: URL=... REPORT_SIGNING_SECRET=... go run report.go '<json body>'")
		os.Exit(2)
	}
	body := []byte(os.Args[1])
	timestamp := strconv.FormatInt(time.Now().Unix(), 10)
	// The signed bytes: the X-Timestamp value, a dot, then the raw body exactly as sent.
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(timestamp + "."))
	mac.Write(body)
	request, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		fmt.Fprintf(os.Stderr, "bad URL %q: %v\n", url, err)
		os.Exit(2)
	}
	request.Header.Set("Content-Type", "application/json")
	request.Header.Set("X-Timestamp", timestamp)
	request.Header.Set("X-Signature", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	response, err := (&http.Client{Timeout: 30 * time.Second}).Do(request)
	if err != nil {
		fmt.Fprintf(os.Stderr, "could not reach %s: %v\n", url, err)
		os.Exit(2)
	}
	defer response.Body.Close()
	answer, _ := io.ReadAll(response.Body)
	fmt.Printf("HTTP %d\n%s\n", response.StatusCode, answer)
	if response.StatusCode < 200 || response.StatusCode > 299 {
		os.Exit(1)
	}
}
