package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/portcullis/portcullis/internal/store/redistest"
)

// BenchmarkRedisAllowAll is the per-request cost of the bench's two
// never-reached limits (per IP, per route) on a real redis-server, with 4
// and 64 concurrent callers per CPU (the gateway under light and heavy
// load). Besides ns/op it reports the CPU time per call of this process
// (go-cpu-ns/op) and of redis-server (redis-cpu-ns/op).
func BenchmarkRedisAllowAll(b *testing.B) {
	srv := redistest.Start(b)
	for _, par := range []int{4, 64} {
		b.Run(fmt.Sprintf("callers=%dxCPU", par), func(b *testing.B) { benchAllowAll(b, srv, par) })
	}
}

func benchAllowAll(b *testing.B, srv *redistest.Server, par int) {
	r := NewRedis(redis.NewClient(&redis.Options{Addr: srv.Addr()}), "bench:", nil)
	b.Cleanup(func() { r.Close() })
	checks := []Check{
		{Key: "rl:bench:per-ip:127.0.0.1", Limit: Limit{Rate: 100000000, Period: time.Second}},
		{Key: "rl:bench:per-route:bench", Limit: Limit{Rate: 1000000000, Period: time.Second}},
	}
	ctx := context.Background()
	if _, _, err := r.AllowAll(ctx, checks, 1); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetParallelism(par)
	goCPU, redisCPU := processCPU(), redisServerCPU(b, r)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			ok, _, err := r.AllowAll(ctx, checks, 1)
			if err != nil || !ok {
				b.Errorf("got %v, %v, want true, nil", ok, err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(processCPU()-goCPU)/float64(b.N), "go-cpu-ns/op")
	b.ReportMetric(float64(redisServerCPU(b, r)-redisCPU)/float64(b.N), "redis-cpu-ns/op")
}

// processCPU is the CPU time (user+system) this process has used.
func processCPU() time.Duration {
	var u syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &u); err != nil {
		return 0
	}
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}

// redisServerCPU is the CPU time (user+system) redis-server has used.
func redisServerCPU(b *testing.B, r *Redis) time.Duration {
	info, err := r.c.Info(context.Background(), "cpu").Result()
	if err != nil {
		b.Fatal(err)
	}
	var total float64
	for _, line := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && (k == "used_cpu_user" || k == "used_cpu_sys") {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				b.Fatal(err)
			}
			total += f
		}
	}
	return time.Duration(total * float64(time.Second))
}
