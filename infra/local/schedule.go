package local

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"time"
)

// Schedule is the subset of EventBridge schedule expressions the local stack
// runs: rate(N minutes|hours|days) and daily cron(M H * * ? *).
type Schedule struct {
	every        time.Duration // rate
	hour, minute int           // daily cron
}

var (
	rateExpr = regexp.MustCompile(`^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$`)
	cronExpr = regexp.MustCompile(`^cron\((\d{1,2}) (\d{1,2}) \* \* \? \*\)$`)
)

// ParseSchedule reads an expression.
func ParseSchedule(expr string) (Schedule, error) {
	if m := rateExpr.FindStringSubmatch(expr); m != nil {
		n, _ := strconv.Atoi(m[1])
		unit := map[string]time.Duration{"minute": time.Minute, "minutes": time.Minute, "hour": time.Hour, "hours": time.Hour, "day": 24 * time.Hour, "days": 24 * time.Hour}[m[2]]
		if n == 0 {
			return Schedule{}, fmt.Errorf("schedule %q: a rate must be positive", expr)
		}
		return Schedule{every: time.Duration(n) * unit}, nil
	}
	if m := cronExpr.FindStringSubmatch(expr); m != nil {
		min, _ := strconv.Atoi(m[1])
		hour, _ := strconv.Atoi(m[2])
		if min > 59 || hour > 23 {
			return Schedule{}, fmt.Errorf("schedule %q: no such time of day", expr)
		}
		return Schedule{hour: hour, minute: min}, nil
	}
	return Schedule{}, fmt.Errorf("schedule %q: the local stack runs rate(N unit) and daily cron(M H * * ? *) expressions", expr)
}

// Next is the first firing strictly after t.
func (s Schedule) Next(t time.Time) time.Time {
	t = t.UTC()
	if s.every > 0 {
		return t.Truncate(s.every).Add(s.every)
	}
	next := time.Date(t.Year(), t.Month(), t.Day(), s.hour, s.minute, 0, 0, time.UTC)
	if !next.After(t) {
		next = next.AddDate(0, 0, 1)
	}
	return next
}

// runSchedule fires the sweeper when the (movable) clock passes the
// schedule's next time; a jump over many firings runs it once, as a late
// schedule would, and the sweep catches up on everything past due.
func (s *Stack) runSchedule() {
	defer s.wg.Done()
	s.onSchedule(s.sched, func() {
		now := s.Clock.Now()
		ev, _ := json.Marshal(map[string]any{
			"version": "0", "id": fmt.Sprintf("sched-%d", now.Unix()), "detail-type": "Scheduled Event", "source": "aws.events",
			"account": "000000000000", "time": now.Format(time.RFC3339), "region": "us-east-1",
			"resources": []string{"arn:aws:events:us-east-1:000000000000:rule/SweepSchedule"}, "detail": map[string]any{},
		})
		out, err := s.functions["Sweeper"](context.Background(), ev)
		if err != nil {
			s.log.Error("scheduled sweep failed", "err", err)
			return
		}
		s.log.Info("scheduled sweep", "summary", json.RawMessage(out))
	})
}

// onSchedule calls fire when the (movable) clock passes the schedule's
// next time, until Close.
func (s *Stack) onSchedule(sched Schedule, fire func()) {
	last := s.Clock.Now()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		now := s.Clock.Now()
		if now.Before(sched.Next(last)) {
			if now.Before(last) {
				last = now // the clock was set back
			}
			continue
		}
		last = now
		fire()
	}
}
