package main

import (
	"net"
	"net/url"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/passpush/passpush/bench/internal/benchkit"
)

// timeline counts executes and first deliveries per second since the load started.
type timeline struct {
	start     atomic.Int64 // UnixNano; 0 before the load starts
	executes  []atomic.Int64
	delivers  []atomic.Int64
	lastIndex atomic.Int64
}

func newTimeline(seconds int) *timeline {
	return &timeline{executes: make([]atomic.Int64, seconds+1), delivers: make([]atomic.Int64, seconds+1)}
}

func (t *timeline) begin(at time.Time) { t.start.Store(at.UnixNano()) }

func (t *timeline) index(at time.Time) int {
	start := t.start.Load()
	if start == 0 {
		return -1
	}
	i := int((at.UnixNano() - start) / int64(time.Second))
	if i < 0 || i >= len(t.executes) {
		return -1
	}
	for {
		last := t.lastIndex.Load()
		if int64(i) <= last || t.lastIndex.CompareAndSwap(last, int64(i)) {
			break
		}
	}
	return i
}

func (t *timeline) executed(at time.Time) {
	if i := t.index(at); i >= 0 {
		t.executes[i].Add(1)
	}
}

func (t *timeline) delivered(at time.Time) {
	if i := t.index(at); i >= 0 {
		t.delivers[i].Add(1)
	}
}

// cpuSample is the CPU time of one process and of the whole machine at one moment.
type cpuSample struct {
	at         time.Time
	process    time.Duration // the service (serve subprocess, or this process with -inprocess)
	self       time.Duration // this process
	busy, all  uint64        // machine ticks
	processErr error
}

func sampleCPU(pid int) cpuSample {
	s := cpuSample{at: time.Now()}
	s.process, s.processErr = benchkit.PIDCPU(pid)
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		s.self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	s.busy, s.all = benchkit.MachineTicks()
	return s
}

// cpuUse is what happened between two samples.
type cpuUse struct {
	wall                    time.Duration
	serviceCores, selfCores float64
	machineBusy             float64 // 0..1 of all CPUs
	serviceCPU              time.Duration
	serviceErr              error
}

func cpuBetween(a, b cpuSample) cpuUse {
	u := cpuUse{wall: b.at.Sub(a.at), serviceErr: b.processErr}
	if u.wall <= 0 {
		return u
	}
	u.serviceCPU = b.process - a.process
	u.serviceCores = u.serviceCPU.Seconds() / u.wall.Seconds()
	u.selfCores = (b.self - a.self).Seconds() / u.wall.Seconds()
	if b.all > a.all {
		u.machineBusy = float64(b.busy-a.busy) / float64(b.all-a.all)
	}
	return u
}

// dbHost is the host of a postgres:// URL.
func dbHost(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	if h := u.Query().Get("host"); h != "" {
		return h
	}
	return u.Hostname()
}

// isLoopbackHost accepts localhost, loopback IPs and Unix socket directories.
func isLoopbackHost(host string) bool {
	if host == "localhost" || strings.HasPrefix(host, "/") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	return addr, ln.Close()
}
