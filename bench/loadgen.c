/*
 * geartrain's load driver for job-server benchmarks, on libgearman (the C library under the
 * `gearman` tools), so geartrain's server and gearmand are driven by exactly the same client.
 * Modelled on gearmand's blobslap: each client process keeps a window of tasks in flight
 * (add N tasks, run them all, repeat), workers answer at once.
 *
 *   loadgen fg    -p PORT [-c clients] [-w workers] [-n inflight] [-s size] [-d seconds]
 *   loadgen bg    -p PORT [-c clients] [-w workers] [-n inflight] [-s size] [-j jobs]
 *   loadgen queue -p PORT [-c clients] [-n inflight] [-s size] [-j jobs] [-S server_pid]
 *
 * Output: one line of `key=value` pairs, e.g. `mode=fg jobs=123456 seconds=5.00 jobs_per_sec=24691`.
 * Build: cc -O2 -o loadgen bench/loadgen.c -lgearman
 */
#define _GNU_SOURCE
#include <libgearman/gearman.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *host = "127.0.0.1";
static int port = 4730;
static int clients = 2, workers = 2, inflight = 100, size = 16;
static double seconds = 5.0;
static long jobs_total = 100000;
static int server_pid = 0;
static const char *function = "gt_bench";

struct shared {
  volatile long completed;   /* worker-side completions */
  volatile long submitted;   /* client-side acknowledgements */
  volatile long client_done; /* foreground results received */
  volatile int stop;
};
static struct shared *sh;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static long rss_kb(int pid) {
  char path[64], line[256];
  long kb = -1;
  snprintf(path, sizeof path, "/proc/%d/status", pid);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  while (fgets(line, sizeof line, f))
    if (strncmp(line, "VmRSS:", 6) == 0) kb = strtol(line + 6, NULL, 10);
  fclose(f);
  return kb;
}

static void *work_fn(gearman_job_st *job, void *ctx, size_t *result_size, gearman_return_t *ret) {
  (void)job;
  (void)ctx;
  __atomic_add_fetch(&sh->completed, 1, __ATOMIC_RELAXED);
  *result_size = 0;
  *ret = GEARMAN_SUCCESS;
  return NULL;
}

static void run_worker(void) {
  gearman_worker_st *w = gearman_worker_create(NULL);
  gearman_worker_add_server(w, host, (in_port_t)port);
  gearman_worker_set_timeout(w, 200);
  gearman_worker_add_function(w, function, 0, work_fn, NULL);
  while (!sh->stop) {
    gearman_return_t rc = gearman_worker_work(w);
    if (rc != GEARMAN_SUCCESS && rc != GEARMAN_TIMEOUT && rc != GEARMAN_IO_WAIT && rc != GEARMAN_NO_ACTIVE_FDS) {
      if (sh->stop) break;
      usleep(1000);
    }
  }
  gearman_worker_free(w);
  _exit(0);
}

static void fill(char *buf, int n, unsigned seed) {
  for (int i = 0; i < n; i++) buf[i] = 'a' + (char)((seed + i * 7) % 26);
}

/* Foreground: rounds of `inflight` tasks until time is up. */
static void run_fg_client(int id) {
  gearman_client_st *c = gearman_client_create(NULL);
  gearman_client_add_server(c, host, (in_port_t)port);
  gearman_client_set_timeout(c, 10000);
  char *payload = malloc(size + 1);
  fill(payload, size, id);
  while (!sh->stop) {
    int added = 0;
    for (int i = 0; i < inflight; i++) {
      gearman_return_t rc;
      if (gearman_client_add_task(c, NULL, NULL, function, NULL, payload, (size_t)size, &rc) && rc == GEARMAN_SUCCESS) added++;
    }
    if (gearman_client_run_tasks(c) != GEARMAN_SUCCESS) {
      fprintf(stderr, "loadgen: client %d: %s\n", id, gearman_client_error(c));
      break;
    }
    gearman_client_task_free_all(c); /* libgearman keeps finished tasks otherwise, and run_tasks walks them all */
    if (!sh->stop) __atomic_add_fetch(&sh->client_done, added, __ATOMIC_RELAXED);
  }
  gearman_client_free(c);
  _exit(0);
}

/* Background: submit `quota` jobs in rounds of `inflight`, each waiting for its JOB_CREATED. */
static void run_bg_client(int id, long quota, int unique) {
  gearman_client_st *c = gearman_client_create(NULL);
  gearman_client_add_server(c, host, (in_port_t)port);
  gearman_client_set_timeout(c, 60000);
  char *payload = malloc(size + 1);
  char uniq[64];
  long sent = 0;
  while (sent < quota) {
    int round = inflight;
    if (quota - sent < round) round = (int)(quota - sent);
    for (int i = 0; i < round; i++) {
      gearman_return_t rc;
      fill(payload, size, (unsigned)(sent + i));
      snprintf(uniq, sizeof uniq, "u-%d-%ld", id, sent + i);
      gearman_client_add_task_background(c, NULL, NULL, function, unique ? uniq : NULL, payload, (size_t)size, &rc);
    }
    if (gearman_client_run_tasks(c) != GEARMAN_SUCCESS) {
      fprintf(stderr, "loadgen: client %d: %s\n", id, gearman_client_error(c));
      _exit(1);
    }
    gearman_client_task_free_all(c);
    sent += round;
    __atomic_add_fetch(&sh->submitted, round, __ATOMIC_RELAXED);
  }
  gearman_client_free(c);
  _exit(0);
}

static pid_t spawn(void (*fn)(void)) {
  pid_t pid = fork();
  if (pid == 0) fn();
  return pid;
}

static int client_id;
static long client_quota;
static int client_unique;
static void fg_client_entry(void) { run_fg_client(client_id); }
static void bg_client_entry(void) { run_bg_client(client_id, client_quota, client_unique); }

static void wait_all(pid_t *pids, int n) {
  for (int i = 0; i < n; i++) waitpid(pids[i], NULL, 0);
}

static void stop_all(pid_t *pids, int n) {
  sh->stop = 1;
  for (int i = 0; i < n; i++) kill(pids[i], SIGTERM);
  wait_all(pids, n);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: loadgen fg|bg|queue [-h host] -p port [-c n] [-w n] [-n n] [-s bytes] [-d s] [-j jobs] [-S pid]\n");
    return 2;
  }
  const char *mode = argv[1];
  int opt;
  optind = 2;
  while ((opt = getopt(argc, argv, "h:p:c:w:n:s:d:j:S:f:")) != -1) {
    switch (opt) {
      case 'h': host = optarg; break;
      case 'p': port = atoi(optarg); break;
      case 'c': clients = atoi(optarg); break;
      case 'w': workers = atoi(optarg); break;
      case 'n': inflight = atoi(optarg); break;
      case 's': size = atoi(optarg); break;
      case 'd': seconds = atof(optarg); break;
      case 'j': jobs_total = atol(optarg); break;
      case 'S': server_pid = atoi(optarg); break;
      case 'f': function = optarg; break;
      default: return 2;
    }
  }
  sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  memset((void *)sh, 0, sizeof *sh);
  pid_t wp[64], cp[64];

  if (strcmp(mode, "fg") == 0) {
    for (int i = 0; i < workers; i++) wp[i] = spawn(run_worker);
    for (int i = 0; i < clients; i++) {
      client_id = i;
      cp[i] = spawn(fg_client_entry);
    }
    /* one second of warm-up, then measure */
    usleep(1000000);
    long start_done = sh->client_done;
    double t0 = now();
    usleep((useconds_t)(seconds * 1e6));
    long jobs = sh->client_done - start_done;
    double t = now() - t0;
    stop_all(cp, clients);
    stop_all(wp, workers);
    printf("mode=fg clients=%d workers=%d inflight=%d size=%d jobs=%ld seconds=%.2f jobs_per_sec=%.0f\n", clients, workers,
           inflight, size, jobs, t, jobs / t);
    return 0;
  }

  if (strcmp(mode, "bg") == 0 || strcmp(mode, "queue") == 0) {
    int unique = strcmp(mode, "queue") == 0;
    long base_rss = server_pid ? rss_kb(server_pid) : -1;
    double t0 = now();
    for (int i = 0; i < clients; i++) {
      client_id = i;
      client_quota = jobs_total / clients + (i < jobs_total % clients ? 1 : 0);
      client_unique = unique;
      cp[i] = spawn(bg_client_entry);
    }
    /* sample the submit rate over the last 10% of the jobs (the queue is deepest there) */
    long mark = jobs_total - jobs_total / 10;
    double tmark = 0;
    long at_mark = 0;
    while (sh->submitted < jobs_total) {
      if (!tmark && sh->submitted >= mark) {
        tmark = now();
        at_mark = sh->submitted;
      }
      usleep(2000);
      int status;
      pid_t done = waitpid(-1, &status, WNOHANG);
      if (done > 0 && WIFEXITED(status) && WEXITSTATUS(status) != 0) {
        fprintf(stderr, "loadgen: a client failed\n");
        return 1;
      }
    }
    double t_submit = now() - t0;
    double tail_rate = tmark ? (sh->submitted - at_mark) / (now() - tmark) : 0;
    wait_all(cp, clients);
    long queued_rss = server_pid ? rss_kb(server_pid) : -1;
    if (strcmp(mode, "queue") == 0) {
      printf("mode=queue jobs=%ld size=%d submit_seconds=%.2f submits_per_sec=%.0f tail_submits_per_sec=%.0f rss_kb_before=%ld rss_kb_queued=%ld\n",
             jobs_total, size, t_submit, jobs_total / t_submit, tail_rate, base_rss, queued_rss);
      return 0;
    }
    double t1 = now();
    for (int i = 0; i < workers; i++) wp[i] = spawn(run_worker);
    while (sh->completed < jobs_total) usleep(1000);
    double t_drain = now() - t1;
    stop_all(wp, workers);
    printf("mode=bg jobs=%ld size=%d submit_seconds=%.2f submits_per_sec=%.0f drain_seconds=%.2f drains_per_sec=%.0f jobs_per_sec=%.0f\n",
           jobs_total, size, t_submit, jobs_total / t_submit, t_drain, jobs_total / t_drain, jobs_total / (t_submit + t_drain));
    return 0;
  }
  fprintf(stderr, "loadgen: unknown mode %s\n", mode);
  return 2;
}
