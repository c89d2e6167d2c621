// Host build of the focuscam motor firmware: the portable core served on a pseudo-terminal.
//
// Usage: focuscam-motor-host [--scale S] [--switch-lo STEPS] [--switch-hi STEPS]
//                            [--backlash STEPS] [--control SOCKET_PATH] [--trace FILE]
// Prints the pty slave path on stdout (one line), then serves the protocol until killed.
// Step timing is simulated in real time (times --scale). The simulated axis has a physical
// position (steps taken since start, kept across resets) and optional limit switches at
// physical positions --switch-lo / --switch-hi (pressed at or beyond them).
// --backlash models a mechanical dead band between the motor and the optics.
// --trace writes one line per step, "<ticks> <physical position>", where ticks is the planned
// time of the step in timer ticks (hal::TICK_HZ) since the start of its motion: the exact step
// timing the core asked for, independent of how busy the machine is.
// SIGUSR1 resets the "board": the core reboots (position 0, banner) while the axis stays put.
// --control opens a Unix stream socket for tests (one request line per connection):
//   "state"  -> "phys=<steps> mech=<steps> moving=<0|1> pos=<firmware position>"
//   "reset"  -> reboots the core like SIGUSR1, answers "ok"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <climits>

#include "../firmware/core/controller.h"
#include "../firmware/core/hal.h"

namespace {

int g_master = -1;
double g_scale = 1.0;
bool g_dir_positive = true;
int64_t g_phys = 0;  // physical axis position in steps
int64_t g_mech = 0;  // optics position behind the dead band, in steps
int64_t g_backlash = 0;
int64_t g_switch_lo = LLONG_MIN, g_switch_hi = LLONG_MAX;
bool g_timer_on = false;
FILE* g_trace = nullptr;
uint64_t g_ticks = 0;  // planned ticks since the current motion started
double g_next_step = 0.0;  // monotonic seconds of the next step
volatile sig_atomic_t g_reset = 0;
fw::Controller g_ctrl;
const char* g_control_path = nullptr;

// One request per connection on the control socket (tests only).
void serve_control(int lfd) {
    int c = accept(lfd, nullptr, nullptr);
    if (c < 0) return;
    char req[64];
    size_t n = 0;
    pollfd p = {c, POLLIN, 0};
    while (n < sizeof req - 1 && poll(&p, 1, 200) > 0) {
        ssize_t k = read(c, req + n, sizeof req - 1 - n);
        if (k <= 0) break;
        n += (size_t)k;
        if (memchr(req, '\n', n)) break;
    }
    req[n] = 0;
    char out[160];
    if (!strncmp(req, "state", 5)) {
        snprintf(out, sizeof out, "phys=%lld mech=%lld moving=%d pos=%ld\n", (long long)g_phys,
                 (long long)g_mech, g_timer_on ? 1 : 0, (long)g_ctrl.position());
    } else if (!strncmp(req, "reset", 5)) {
        g_reset = 1;
        snprintf(out, sizeof out, "ok\n");
    } else {
        snprintf(out, sizeof out, "error: unknown request, use state or reset\n");
    }
    ssize_t w = write(c, out, strlen(out));
    (void)w;
    close(c);
}

double now_s() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

double ticks_to_s(uint32_t ticks) { return (double)ticks / (double)hal::TICK_HZ / g_scale; }

void on_usr1(int) { g_reset = 1; }

int64_t parse_ll(const char* flag, const char* v) {
    char* end = nullptr;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || !end || *end || end == v) {
        fprintf(stderr, "focuscam-motor-host: %s needs an integer number of steps, not '%s'\n", flag, v);
        exit(2);
    }
    return x;
}

}  // namespace

namespace hal {
void set_dir(bool positive) { g_dir_positive = positive; }
void step_pulse() {
    g_phys += g_dir_positive ? 1 : -1;
    if (g_trace) fprintf(g_trace, "%llu %lld\n", (unsigned long long)g_ticks, (long long)g_phys);
    // dead band: the optics follow only once the slack of g_backlash steps is taken up
    if (g_mech < g_phys - g_backlash) g_mech = g_phys - g_backlash;
    if (g_mech > g_phys) g_mech = g_phys;
}
void set_enable(bool) {}
bool switch_lo() { return g_phys <= g_switch_lo; }
bool switch_hi() { return g_phys >= g_switch_hi; }
void serial_write(const char* data, uint8_t n) {
    // Like a UART with nobody listening: bytes the pty cannot take are lost.
    while (n > 0) {
        ssize_t k = write(g_master, data, n);
        if (k < 0) {
            if (errno == EINTR) continue;
            return;
        }
        data += k;
        n = (uint8_t)(n - k);
    }
}
void timer_start(uint32_t ticks) {
    g_timer_on = true;
    g_ticks = ticks;
    g_next_step = now_s() + ticks_to_s(ticks);
}
void timer_stop() {
    g_timer_on = false;
    if (g_trace) fflush(g_trace);
}
void irq_off() {}
void irq_on() {}
}  // namespace hal

int main(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        const char* a = argv[i];
        const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
        if (!strcmp(a, "--scale") && v) {
            g_scale = atof(v);
            if (!(g_scale > 0)) {
                fprintf(stderr, "focuscam-motor-host: --scale needs a positive number, not '%s'\n", v);
                return 2;
            }
            ++i;
        } else if (!strcmp(a, "--backlash") && v) {
            g_backlash = parse_ll(a, v);
            if (g_backlash < 0) {
                fprintf(stderr, "focuscam-motor-host: --backlash needs 0 or more steps\n");
                return 2;
            }
            ++i;
        } else if (!strcmp(a, "--trace") && v) {
            g_trace = fopen(v, "w");
            if (!g_trace) {
                perror("focuscam-motor-host: --trace");
                return 2;
            }
            ++i;
        } else if (!strcmp(a, "--control") && v) {
            g_control_path = v;
            ++i;
        } else if (!strcmp(a, "--switch-lo") && v) {
            g_switch_lo = parse_ll(a, v);
            ++i;
        } else if (!strcmp(a, "--switch-hi") && v) {
            g_switch_hi = parse_ll(a, v);
            ++i;
        } else {
            fprintf(stderr,
                    "usage: focuscam-motor-host [--scale S] [--switch-lo STEPS] [--switch-hi STEPS] "
                    "[--backlash STEPS] [--control SOCKET_PATH] [--trace FILE]\n");
            return 2;
        }
    }
    g_master = posix_openpt(O_RDWR | O_NOCTTY);
    if (g_master < 0 || grantpt(g_master) || unlockpt(g_master)) {
        perror("focuscam-motor-host: posix_openpt");
        return 3;
    }
    const char* slave = ptsname(g_master);
    // Hold the slave open (raw) so the master never sees a hang-up between clients, and so
    // nothing we write is echoed back to us before a client sets the line raw.
    int keep = open(slave, O_RDWR | O_NOCTTY);
    if (keep < 0) {
        perror("focuscam-motor-host: open slave");
        return 3;
    }
    termios tio;
    tcgetattr(keep, &tio);
    cfmakeraw(&tio);
    tcsetattr(keep, TCSANOW, &tio);
    fcntl(g_master, F_SETFL, fcntl(g_master, F_GETFL) | O_NONBLOCK);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, nullptr);
    signal(SIGPIPE, SIG_IGN);

    int lfd = -1;
    if (g_control_path) {
        lfd = socket(AF_UNIX, SOCK_STREAM, 0);
        sockaddr_un addr;
        memset(&addr, 0, sizeof addr);
        addr.sun_family = AF_UNIX;
        strncpy(addr.sun_path, g_control_path, sizeof addr.sun_path - 1);
        unlink(g_control_path);
        if (lfd < 0 || bind(lfd, (sockaddr*)&addr, sizeof addr) || listen(lfd, 4)) {
            perror("focuscam-motor-host: control socket");
            return 3;
        }
    }
    printf("%s\n", slave);
    fflush(stdout);
    g_ctrl.boot();

    uint8_t buf[256];
    for (;;) {
        if (g_reset) {
            g_reset = 0;
            g_ctrl.boot();
        }
        int timeout_ms = 50;
        if (g_timer_on) {
            double wait = g_next_step - now_s();
            timeout_ms = wait <= 0 ? 0 : (int)(wait * 1000.0);
            if (timeout_ms > 50) timeout_ms = 50;
        }
        pollfd fds[2] = {{g_master, POLLIN, 0}, {lfd, POLLIN, 0}};
        pollfd& p = fds[0];
        int r = poll(fds, lfd >= 0 ? 2 : 1, timeout_ms);
        if (r < 0 && errno != EINTR) {
            perror("focuscam-motor-host: poll");
            return 3;
        }
        if (r > 0 && (p.revents & POLLIN)) {
            ssize_t n = read(g_master, buf, sizeof buf);
            for (ssize_t i = 0; i < n; ++i) g_ctrl.rx_byte(buf[i]);
        }
        if (r > 0 && lfd >= 0 && (fds[1].revents & POLLIN)) serve_control(lfd);
        // run every step that is due (catching up keeps the simulated timing exact)
        double t = now_s();
        while (g_timer_on && g_next_step <= t) {
            uint32_t next = g_ctrl.on_step();
            if (next == 0) {
                g_timer_on = false;
                if (g_trace) fflush(g_trace);
            } else {
                g_next_step += ticks_to_s(next);
                g_ticks += next;
            }
        }
        g_ctrl.poll();
    }
}
