package main

import (
	"bufio"
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/passpush/passpush/bench/internal/benchkit"
)

// logDeliveriesPerInstance logs how many webhook pushes each instance delivered, from its GET /metrics, so a run
// with -instances shows whether all of them took part.
func logDeliveriesPerInstance(ctx context.Context, urls []string) {
	if len(urls) < 2 {
		return
	}
	counts := make([]string, len(urls))
	for i, url := range urls {
		counts[i] = "?"
		if n, ok := deliveredBy(ctx, url); ok {
			counts[i] = strconv.FormatFloat(n, 'f', 0, 64)
		}
	}
	benchkit.Logf("webhook deliveries per instance (passpush_delivery_outcomes_total): %s", strings.Join(counts, " / "))
}

// deliveredBy reads passpush_delivery_outcomes_total{channel="webhook",outcome="delivered"} from an instance.
func deliveredBy(ctx context.Context, baseURL string) (float64, bool) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, baseURL+"/metrics", nil)
	if err != nil {
		return 0, false
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, false
	}
	defer res.Body.Close()
	const series = `passpush_delivery_outcomes_total{channel="webhook",outcome="delivered"} `
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series); ok {
			n, err := strconv.ParseFloat(v, 64)
			return n, err == nil
		}
	}
	return 0, false
}
