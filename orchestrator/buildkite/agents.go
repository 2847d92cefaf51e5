package buildkite

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// AgentInfo is what the drift check and the pause lever need of a Buildkite agent.
type AgentInfo struct {
	ID       string
	Name     string
	Hostname string
	// Tags are the agent's meta_data, "key=value" each.
	Tags []string
	// ConnectionState is connected, disconnected, stopping or stopped.
	ConnectionState string
	// Busy is set while the agent runs a job.
	Busy bool
}

// maxAgentPages bounds one listing (100 agents a page).
const maxAgentPages = 200

// wireAgent is the part of Buildkite's agent JSON vmfleet reads.
type wireAgent struct {
	ID              string          `json:"id"`
	Name            string          `json:"name"`
	Hostname        string          `json:"hostname"`
	ConnectionState string          `json:"connection_state"`
	MetaData        []string        `json:"meta_data"`
	Job             json.RawMessage `json:"job"`
}

func (c *Client) agentsPath(rest string) string {
	return fmt.Sprintf("v2/organizations/%s/agents%s", url.PathEscape(c.org), rest)
}

// ListAgents lists the organization's connected agents (Buildkite omits
// disconnected ones), following pages.
func (c *Client) ListAgents(ctx context.Context) ([]AgentInfo, error) {
	var out []AgentInfo
	for page := 1; page > 0; {
		if page > maxAgentPages {
			return out, fmt.Errorf("list agents: more than %d pages", maxAgentPages)
		}
		q := url.Values{}
		q.Set("per_page", "100")
		q.Set("page", strconv.Itoa(page))
		var as []wireAgent
		resp, err := c.do(ctx, http.MethodGet, c.agentsPath("?"+q.Encode()), nil, &as)
		if err != nil {
			return nil, fmt.Errorf("list agents: %w", err)
		}
		for _, a := range as {
			busy := len(a.Job) > 0 && string(a.Job) != "null"
			out = append(out, AgentInfo{ID: a.ID, Name: a.Name, Hostname: a.Hostname, Tags: a.MetaData,
				ConnectionState: a.ConnectionState, Busy: busy})
		}
		page = resp.NextPage
	}
	return out, nil
}

// PauseAgent is PUT .../agents/{id}/pause with a note and a timeout (whole
// minutes, 1 to 10080: Buildkite's range).
func (c *Client) PauseAgent(ctx context.Context, id, note string, timeout time.Duration) error {
	mins := int(math.Ceil(timeout.Minutes()))
	mins = min(max(mins, 1), 10080)
	body := map[string]any{"note": note, "timeout_in_minutes": mins}
	_, err := c.do(ctx, http.MethodPut, c.agentsPath("/"+url.PathEscape(id)+"/pause"), body, nil)
	if err != nil {
		return fmt.Errorf("pause agent %s: %w", id, agentErr(err, "already paused", ErrAgentAlreadyPaused))
	}
	return nil
}

// ResumeAgent is PUT .../agents/{id}/resume.
func (c *Client) ResumeAgent(ctx context.Context, id string) error {
	_, err := c.do(ctx, http.MethodPut, c.agentsPath("/"+url.PathEscape(id)+"/resume"), struct{}{}, nil)
	if err != nil {
		return fmt.Errorf("resume agent %s: %w", id, agentErr(err, "not paused", ErrAgentNotPaused))
	}
	return nil
}

// agentErr classifies Buildkite's 422 for a pause or resume that is already
// in effect. Buildkite says so only in the message, so this is where the
// message is read, once, at the API boundary.
func agentErr(err error, phrase string, sentinel error) error {
	var ae *APIError
	if errors.As(err, &ae) && ae.Status == http.StatusUnprocessableEntity &&
		strings.Contains(strings.ToLower(ae.Message), phrase) {
		return fmt.Errorf("%w: %w", sentinel, err)
	}
	return err
}
