// Linux-only headers that `import Glibc` does not surface to Swift. Keep this list minimal:
// a header included here is owned by this module in whole-module (release) builds, which
// hides its declarations from files that import only Glibc.
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <sys/timex.h>
#include <malloc.h>
