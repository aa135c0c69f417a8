/*
 * fs_ops: the small-file and directory parts of bench/fs_compare.sh, as plain
 * syscalls in a loop (a shell loop would measure the shell's fork/exec, not
 * the file system). fs_compare.sh compiles it at run time with gcc.
 *
 *   fs_ops create DIR N       open(O_CREAT|O_EXCL)/write 4 KiB/close DIR/fI, I < N; sync()
 *   fs_ops stat   DIR N       stat() each; its size must be 4096
 *   fs_ops read   DIR N       open/read/close each; its bytes must be those written
 *   fs_ops unlink DIR N       unlink() each
 *   fs_ops mkdir  DIR N M     mkdir DIR/dI, I < N, each with M subfolders DIR/dI/sJ; sync()
 *   fs_ops rmdir  DIR N M     rmdir the subfolders, then the folders
 *
 * Prints the seconds the whole loop took (with the sync() of the operations
 * that write) on stdout.
 * A failing syscall or a wrong size or content is one line on stderr and
 * exit 1: on a benchmark of a file system, a wrong result is a bug to report.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum { kFileSize = 4096 };

static void fail(const char *what, const char *path) {
  fprintf(stderr, "fs_ops: %s %s: %s\n", what, path, strerror(errno));
  exit(1);
}

static void wrong(const char *what, const char *path) {
  fprintf(stderr, "fs_ops: %s %s\n", what, path);
  exit(1);
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The content of file I: different for every file and every offset. */
static void fill(unsigned char *buf, long i) {
  uint32_t x = (uint32_t)i * 2654435761u + 12345u;
  for (int k = 0; k < kFileSize; k++) {
    x = x * 1103515245u + 12345u;
    buf[k] = (unsigned char)(x >> 16);
  }
}

static long parse_count(const char *s) {
  char *end;
  errno = 0;
  long n = strtol(s, &end, 10);
  if (errno != 0 || *end != '\0' || n < 0) {
    fprintf(stderr, "fs_ops: not a count: %s\n", s);
    exit(2);
  }
  return n;
}

static void file_path(char *out, size_t size, const char *dir, long i) {
  snprintf(out, size, "%s/f%ld", dir, i);
}

static void do_create(const char *dir, long n) {
  unsigned char buf[kFileSize];
  char path[4096];
  for (long i = 0; i < n; i++) {
    file_path(path, sizeof path, dir, i);
    fill(buf, i);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0) fail("create", path);
    ssize_t w = write(fd, buf, kFileSize);
    if (w < 0) fail("write", path);
    if (w != kFileSize) wrong("short write to", path);
    if (close(fd) != 0) fail("close", path);
  }
}

static void do_stat(const char *dir, long n) {
  char path[4096];
  struct stat st;
  for (long i = 0; i < n; i++) {
    file_path(path, sizeof path, dir, i);
    if (stat(path, &st) != 0) fail("stat", path);
    if (st.st_size != kFileSize) wrong("stat: size is not 4096 for", path);
  }
}

static void do_read(const char *dir, long n) {
  unsigned char want[kFileSize];
  unsigned char got[kFileSize + 1];
  char path[4096];
  for (long i = 0; i < n; i++) {
    file_path(path, sizeof path, dir, i);
    int fd = open(path, O_RDONLY);
    if (fd < 0) fail("open", path);
    /* One read of one byte more than the file: a longer file shows too. */
    ssize_t r = read(fd, got, sizeof got);
    if (r < 0) fail("read", path);
    if (close(fd) != 0) fail("close", path);
    if (r != kFileSize) wrong("read: not 4096 bytes in", path);
    fill(want, i);
    if (memcmp(want, got, kFileSize) != 0) wrong("read: wrong bytes in", path);
  }
}

static void do_unlink(const char *dir, long n) {
  char path[4096];
  for (long i = 0; i < n; i++) {
    file_path(path, sizeof path, dir, i);
    if (unlink(path) != 0) fail("unlink", path);
  }
}

static void do_mkdir(const char *dir, long n, long m) {
  char path[4096];
  for (long i = 0; i < n; i++) {
    snprintf(path, sizeof path, "%s/d%ld", dir, i);
    if (mkdir(path, 0755) != 0) fail("mkdir", path);
    for (long j = 0; j < m; j++) {
      snprintf(path, sizeof path, "%s/d%ld/s%ld", dir, i, j);
      if (mkdir(path, 0755) != 0) fail("mkdir", path);
    }
  }
}

static void do_rmdir(const char *dir, long n, long m) {
  char path[4096];
  for (long i = 0; i < n; i++) {
    for (long j = 0; j < m; j++) {
      snprintf(path, sizeof path, "%s/d%ld/s%ld", dir, i, j);
      if (rmdir(path) != 0) fail("rmdir", path);
    }
    snprintf(path, sizeof path, "%s/d%ld", dir, i);
    if (rmdir(path) != 0) fail("rmdir", path);
  }
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: fs_ops create|stat|read|unlink DIR N | mkdir|rmdir DIR N M\n");
    return 2;
  }
  const char *op = argv[1];
  const char *dir = argv[2];
  long n = parse_count(argv[3]);
  int tree = strcmp(op, "mkdir") == 0 || strcmp(op, "rmdir") == 0;
  if (tree != (argc == 5) || (!tree && argc != 4)) {
    fprintf(stderr, "fs_ops: %s wants %s\n", op, tree ? "DIR N M" : "DIR N");
    return 2;
  }
  long m = tree ? parse_count(argv[4]) : 0;

  double start = now();
  if (strcmp(op, "create") == 0) {
    do_create(dir, n);
    sync();
  } else if (strcmp(op, "stat") == 0) {
    do_stat(dir, n);
  } else if (strcmp(op, "read") == 0) {
    do_read(dir, n);
  } else if (strcmp(op, "unlink") == 0) {
    do_unlink(dir, n);
  } else if (strcmp(op, "mkdir") == 0) {
    do_mkdir(dir, n, m);
    sync();
  } else if (strcmp(op, "rmdir") == 0) {
    do_rmdir(dir, n, m);
  } else {
    fprintf(stderr, "fs_ops: unknown operation %s\n", op);
    return 2;
  }
  printf("%.6f\n", now() - start);
  return 0;
}
