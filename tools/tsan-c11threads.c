/* C11 threads (<threads.h>) on top of POSIX threads, linked into every binary of the tsan build
 * (tools/build.sh tsan).
 *
 * Why: Debian 12's librdkafka creates its threads with thrd_create and locks with mtx_lock and
 * cnd_wait. glibc implements these by calling its pthread internals directly, past the
 * interceptors of GCC 12's ThreadSanitizer, which knows no C11 thread function. So TSan never
 * learns about librdkafka's threads (the first malloc on one crashes in TSan's allocator: SEGV in
 * SizeClassAllocator64LocalCache) nor about its locks (every message handed from a broker thread
 * to a shard would look like a race). Defined here, in the executable, these functions take
 * precedence over glibc's for librdkafka, and they call the pthread functions TSan intercepts.
 *
 * glibc's mtx_t, cnd_t and once_flag have the layout of pthread_mutex_t, pthread_cond_t and
 * pthread_once_t (they are the same objects inside glibc), and thrd_t is a pthread_t. Only for
 * sanitizer builds: release builds use glibc's own functions. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <threads.h>

_Static_assert(sizeof(mtx_t) == sizeof(pthread_mutex_t), "mtx_t is a pthread_mutex_t");
_Static_assert(sizeof(cnd_t) == sizeof(pthread_cond_t), "cnd_t is a pthread_cond_t");
_Static_assert(sizeof(once_flag) == sizeof(pthread_once_t), "once_flag is a pthread_once_t");
_Static_assert(sizeof(thrd_t) == sizeof(pthread_t), "thrd_t is a pthread_t");

static int result_of(int e) {
  switch (e) {
    case 0:
      return thrd_success;
    case EBUSY:
      return thrd_busy;
    case ETIMEDOUT:
      return thrd_timedout;
    case ENOMEM:
      return thrd_nomem;
    default:
      return thrd_error;
  }
}

struct start {
  thrd_start_t func;
  void *arg;
};

static void *trampoline(void *p) {
  struct start s = *(struct start *)p;
  free(p);
  return (void *)(intptr_t)s.func(s.arg);
}

int thrd_create(thrd_t *thr, thrd_start_t func, void *arg) {
  struct start *s = malloc(sizeof(*s));
  if (s == NULL) return thrd_nomem;
  s->func = func;
  s->arg = arg;
  const int e = pthread_create((pthread_t *)thr, NULL, trampoline, s);
  if (e != 0) free(s);
  return result_of(e);
}

int thrd_join(thrd_t thr, int *res) {
  void *r = NULL;
  const int e = pthread_join((pthread_t)thr, &r);
  if (e == 0 && res != NULL) *res = (int)(intptr_t)r;
  return result_of(e);
}

int thrd_detach(thrd_t thr) { return result_of(pthread_detach((pthread_t)thr)); }

void thrd_exit(int res) { pthread_exit((void *)(intptr_t)res); }

int mtx_init(mtx_t *m, int type) {
  pthread_mutexattr_t a;
  pthread_mutexattr_init(&a);
  if (type & mtx_recursive) pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
  const int e = pthread_mutex_init((pthread_mutex_t *)m, &a);
  pthread_mutexattr_destroy(&a);
  return result_of(e);
}

int mtx_lock(mtx_t *m) { return result_of(pthread_mutex_lock((pthread_mutex_t *)m)); }

int mtx_trylock(mtx_t *m) { return result_of(pthread_mutex_trylock((pthread_mutex_t *)m)); }

int mtx_timedlock(mtx_t *restrict m, const struct timespec *restrict t) {
  return result_of(pthread_mutex_timedlock((pthread_mutex_t *)m, t));
}

int mtx_unlock(mtx_t *m) { return result_of(pthread_mutex_unlock((pthread_mutex_t *)m)); }

void mtx_destroy(mtx_t *m) { pthread_mutex_destroy((pthread_mutex_t *)m); }

int cnd_init(cnd_t *c) { return result_of(pthread_cond_init((pthread_cond_t *)c, NULL)); }

int cnd_signal(cnd_t *c) { return result_of(pthread_cond_signal((pthread_cond_t *)c)); }

int cnd_broadcast(cnd_t *c) { return result_of(pthread_cond_broadcast((pthread_cond_t *)c)); }

int cnd_wait(cnd_t *c, mtx_t *m) {
  return result_of(pthread_cond_wait((pthread_cond_t *)c, (pthread_mutex_t *)m));
}

int cnd_timedwait(cnd_t *restrict c, mtx_t *restrict m, const struct timespec *restrict t) {
  return result_of(pthread_cond_timedwait((pthread_cond_t *)c, (pthread_mutex_t *)m, t));
}

void cnd_destroy(cnd_t *c) { pthread_cond_destroy((pthread_cond_t *)c); }

void call_once(once_flag *flag, void (*func)(void)) { pthread_once((pthread_once_t *)flag, func); }
