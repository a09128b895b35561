// Package verify is a client for the Verify API of the SMS developer portal.
package verify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultBaseURL is the address of the production API.
const DefaultBaseURL = "https://api.example-sms.com"

// Channel is the delivery channel of the one-time code.
type Channel string

// Channels the API accepts.
const (
	ChannelWhatsApp Channel = "whatsapp"
	ChannelSMS      Channel = "sms"
	ChannelVoice    Channel = "voice"
)

// Verification is a started verification.
type Verification struct {
	ID      string  `json:"id"`
	Status  string  `json:"status"`
	Channel Channel `json:"channel"`
}

// CheckResult is the outcome of checking a code.
type CheckResult struct {
	Status string `json:"status"`
}

// Error is a problem document the API returned with a 4xx or 5xx status.
type Error struct {
	StatusCode int    `json:"status"`
	Title      string `json:"title"`
	Detail     string `json:"detail"`
}

func (e *Error) Error() string {
	return fmt.Sprintf("%d %s: %s", e.StatusCode, e.Title, e.Detail)
}

// Client starts verifications and checks one-time codes.
type Client struct {
	APIKey     string
	BaseURL    string
	HTTPClient *http.Client
}

// NewClient returns a client for the production API with a 10 s timeout.
func NewClient(apiKey string) *Client {
	return &Client{APIKey: apiKey, BaseURL: DefaultBaseURL, HTTPClient: &http.Client{Timeout: 10 * time.Second}}
}

// Start sends a one-time code to phoneNumber (E.164) over channel.
func (c *Client) Start(ctx context.Context, phoneNumber string, channel Channel) (*Verification, error) {
	var out Verification
	body := map[string]string{"phone_number": phoneNumber, "channel": string(channel)}
	if err := c.post(ctx, "/v1/verify", body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Check checks the code the user entered for verificationID.
func (c *Client) Check(ctx context.Context, verificationID, code string) (*CheckResult, error) {
	var out CheckResult
	path := "/v1/verify/" + url.PathEscape(verificationID) + "/check"
	if err := c.post(ctx, path, map[string]string{"code": code}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

func (c *Client) post(ctx context.Context, path string, body any, out any) error {
	payload, err := json.Marshal(body)
	if err != nil {
		return err
	}
	request, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(c.BaseURL, "/")+path, bytes.NewReader(payload))
	if err != nil {
		return err
	}
	request.Header.Set("Authorization", "Bearer "+c.APIKey)
	request.Header.Set("Content-Type", "application/json")
	request.Header.Set("User-Agent", "example-sms-verify-go/"+Version)
	response, err := c.HTTPClient.Do(request)
	if err != nil {
		return err
	}
	defer response.Body.Close()
	if response.StatusCode >= 400 {
		problem := &Error{StatusCode: response.StatusCode}
		_ = json.NewDecoder(response.Body).Decode(problem)
		return problem
	}
	return json.NewDecoder(response.Body).Decode(out)
}
