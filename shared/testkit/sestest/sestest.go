// Package sestest runs aws-ses-v2-local, an SES (API v2) endpoint on this
// machine that keeps every mail it is sent, for tests and for the local
// stack, with a client for it and a reader of what it received (GET /store).
//
// What aws-ses-v2-local 2.10.2 is: an Express server answering SES API v2's
// SendEmail (Simple, Raw and Template content) and API v1's SendEmail and
// SendRawEmail the way the AWS SDKs expect, keeping the mail in memory.
// GET /store answers {"templates":{…},"emails":[…]}, each e-mail with
// messageId, from, destination {to, cc, bcc}, subject, body {text, html} and
// at (epoch seconds); GET / shows the mail in a browser; GET /health-check
// answers 200. It checks neither signatures nor identities: any From is
// accepted (SES would want a verified identity and, in its sandbox, verified
// recipients), and it never throttles.
package sestest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/dormancy/dormancy/shared/testkit/localproc"
)

// Local is a running aws-ses-v2-local.
type Local struct {
	Endpoint string
	Port     int
	*localproc.Process
}

// Binary finds aws-ses-v2-local among the pinned node tools.
func Binary() (string, error) { return localproc.NodeTool("aws-ses-v2-local") }

// Start runs aws-ses-v2-local on 127.0.0.1:port (0 picks one) and waits
// until it answers.
func Start(port int) (*Local, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	if port, err = localproc.Port("aws-ses-v2-local", port); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "--host", "127.0.0.1", "--port", strconv.Itoa(port))
	endpoint := fmt.Sprintf("http://127.0.0.1:%d", port)
	ready := func() error {
		resp, err := http.Get(endpoint + "/health-check")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("health check: %s", resp.Status)
		}
		return nil
	}
	p, err := localproc.Start("aws-ses-v2-local", cmd, "SES_LOCAL_LOG", ready, 30*time.Second)
	if err != nil {
		return nil, err
	}
	return &Local{Endpoint: endpoint, Port: port, Process: p}, nil
}

// NewClient is an SES API v2 client for a local endpoint; opts adjust it
// (the retry policy, say).
func NewClient(endpoint string, opts ...func(*sesv2.Options)) *sesv2.Client {
	return sesv2.New(sesv2.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(endpoint),
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
	}, opts...)
}

// Email is one mail as GET /store shows it.
type Email struct {
	MessageID   string   `json:"messageId"`
	From        string   `json:"from"`
	ReplyTo     []string `json:"replyTo"`
	Destination struct {
		To  []string `json:"to"`
		Cc  []string `json:"cc"`
		Bcc []string `json:"bcc"`
	} `json:"destination"`
	Subject string `json:"subject"`
	Body    struct {
		Text string `json:"text"`
		HTML string `json:"html"`
	} `json:"body"`
	At int64 `json:"at"` // epoch seconds
}

// Emails reads every mail the server at endpoint has received, oldest first.
func Emails(ctx context.Context, endpoint string) ([]Email, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+"/store", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET /store: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /store: %s", resp.Status)
	}
	var store struct {
		Emails []Email `json:"emails"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&store); err != nil {
		return nil, fmt.Errorf("GET /store: %w", err)
	}
	return store.Emails, nil
}

// Emails reads every mail this server has received.
func (l *Local) Emails(ctx context.Context) ([]Email, error) { return Emails(ctx, l.Endpoint) }

// To returns the mails sent to address (in To, Cc or Bcc), oldest first.
func To(all []Email, address string) []Email {
	var out []Email
	for _, e := range all {
		if slices.Contains(e.Destination.To, address) || slices.Contains(e.Destination.Cc, address) || slices.Contains(e.Destination.Bcc, address) {
			out = append(out, e)
		}
	}
	return out
}
