/*
 * focuscam-motor-avr: run the AVR build of the focuscam motor firmware under simavr.
 *
 * Usage: focuscam-motor-avr FIRMWARE.elf [--switch-lo STEPS] [--switch-hi STEPS] [--realtime]
 *                           [--backlash STEPS] [--control SOCKET_PATH]
 *
 * Loads the ELF (the same bytes that are flashed) on an emulated ATmega328P at 16 MHz,
 * bridges USART0 to a pseudo-terminal (prints the slave path on stdout, one line) and models
 * the axis: it counts pulses on the STEP pin (PD4) in the direction of the DIR pin (PD7) and
 * drives the limit-switch inputs PB1 (low) / PB2 (high) low (pressed) at or beyond the
 * physical positions given. --realtime keeps the emulation from running ahead of wall time
 * (it normally runs slower than real time anyway). --backlash models a mechanical dead band
 * between motor and optics. --control opens a Unix stream socket for tests (one request line per
 * connection): "state" -> "phys=<steps> mech=<steps> moving=<0|1>" (moving = the step timer's
 * interrupt is enabled, read from TIMSK1 of the emulated chip).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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

#include <simavr/avr_ioport.h>
#include <simavr/avr_uart.h>
#include <simavr/sim_avr.h>
#include <simavr/sim_elf.h>
#include <simavr/sim_irq.h>

static int g_master = -1;
static int g_xon = 1;
static long long g_phys = 0;
static long long g_mech = 0, g_backlash = 0;
static int g_dir = 1;
static long long g_sw_lo = LLONG_MIN, g_sw_hi = LLONG_MAX;
static avr_irq_t *g_uart_in, *g_lo_pin, *g_hi_pin;
static int g_lo_state = -1, g_hi_state = -1;

static unsigned char g_in[4096];
static size_t g_in_len = 0, g_in_pos = 0;

static void update_switches(void) {
    int lo = g_phys <= g_sw_lo ? 0 : 1; /* pressed = low */
    int hi = g_phys >= g_sw_hi ? 0 : 1;
    if (lo != g_lo_state) {
        g_lo_state = lo;
        avr_raise_irq(g_lo_pin, lo);
    }
    if (hi != g_hi_state) {
        g_hi_state = hi;
        avr_raise_irq(g_hi_pin, hi);
    }
}

static void on_uart_out(struct avr_irq_t *irq, uint32_t value, void *param) {
    (void)irq;
    (void)param;
    unsigned char b = (unsigned char)value;
    for (;;) { /* like a UART with nobody listening: bytes the pty cannot take are lost */
        ssize_t k = write(g_master, &b, 1);
        if (k >= 0 || errno != EINTR) break;
    }
}

static void on_xon(struct avr_irq_t *irq, uint32_t value, void *param) {
    (void)irq;
    (void)value;
    (void)param;
    g_xon = 1;
}

static void on_xoff(struct avr_irq_t *irq, uint32_t value, void *param) {
    (void)irq;
    (void)value;
    (void)param;
    g_xon = 0;
}

static void on_dir(struct avr_irq_t *irq, uint32_t value, void *param) {
    (void)irq;
    (void)param;
    g_dir = value ? 1 : -1;
}

static void on_step(struct avr_irq_t *irq, uint32_t value, void *param) {
    (void)param;
    if (value && !irq->value) { /* rising edge (irq->value still holds the old level) */
        g_phys += g_dir;
        if (g_mech < g_phys - g_backlash) g_mech = g_phys - g_backlash;
        if (g_mech > g_phys) g_mech = g_phys;
        update_switches();
    }
}

static long long parse_ll(const char *flag, const char *v) {
    char *end = NULL;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || !end || *end || end == v) {
        fprintf(stderr, "focuscam-motor-avr: %s needs an integer number of steps, not '%s'\n", flag, v);
        exit(2);
    }
    return x;
}

static void serve_control(int lfd, avr_t *avr) {
    int c = accept(lfd, NULL, NULL);
    if (c < 0) return;
    char req[64];
    size_t n = 0;
    struct pollfd p = {c, POLLIN, 0};
    while (n < sizeof req - 1 && poll(&p, 1, 200) > 0) {
        ssize_t k = read(c, req + n, sizeof req - 1 - n);
        if (k <= 0) break;
        n += (size_t)k;
        if (memchr(req, '\n', n)) break;
    }
    req[n] = 0;
    char out[160];
    if (!strncmp(req, "state", 5)) {
        int moving = (avr->data[0x6F] & 0x02) != 0; /* TIMSK1 & OCIE1A */
        snprintf(out, sizeof out, "phys=%lld mech=%lld moving=%d\n", g_phys, g_mech, moving);
    } else {
        snprintf(out, sizeof out, "error: unknown request, use state\n");
    }
    ssize_t w = write(c, out, strlen(out));
    (void)w;
    close(c);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    const char *elf = NULL;
    int realtime = 0;
    const char *control = NULL;
    for (int i = 1; i < argc; ++i) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "--switch-lo") && v) {
            g_sw_lo = parse_ll(argv[i], v);
            ++i;
        } else if (!strcmp(argv[i], "--switch-hi") && v) {
            g_sw_hi = parse_ll(argv[i], v);
            ++i;
        } else if (!strcmp(argv[i], "--backlash") && v) {
            g_backlash = parse_ll(argv[i], v);
            ++i;
        } else if (!strcmp(argv[i], "--control") && v) {
            control = v;
            ++i;
        } else if (!strcmp(argv[i], "--realtime")) {
            realtime = 1;
        } else if (argv[i][0] != '-' && !elf) {
            elf = argv[i];
        } else {
            elf = NULL;
            break;
        }
    }
    if (!elf) {
        fprintf(stderr, "usage: focuscam-motor-avr FIRMWARE.elf [--switch-lo STEPS] [--switch-hi STEPS] "
                        "[--realtime] [--backlash STEPS] [--control SOCKET_PATH]\n");
        return 2;
    }
    /* simavr prints its own messages on stdout: keep stdout for the slave path only */
    int out = dup(1);
    dup2(2, 1);
    elf_firmware_t fw;
    memset(&fw, 0, sizeof fw);
    if (elf_read_firmware(elf, &fw) != 0) {
        fprintf(stderr, "focuscam-motor-avr: cannot read %s: build it with make avr\n", elf);
        return 2;
    }
    avr_t *avr = avr_make_mcu_by_name("atmega328p");
    if (!avr) {
        fprintf(stderr, "focuscam-motor-avr: simavr has no atmega328p core\n");
        return 3;
    }
    avr_init(avr);
    avr->frequency = 16000000;
    avr->log = 1; /* errors only */
    avr_load_firmware(avr, &fw);
    avr->frequency = 16000000;

    g_master = posix_openpt(O_RDWR | O_NOCTTY);
    if (g_master < 0 || grantpt(g_master) || unlockpt(g_master)) {
        perror("focuscam-motor-avr: posix_openpt");
        return 3;
    }
    const char *slave = ptsname(g_master);
    int keep = open(slave, O_RDWR | O_NOCTTY); /* no hang-up between clients, no echo */
    if (keep < 0) {
        perror("focuscam-motor-avr: open slave");
        return 3;
    }
    struct termios tio;
    tcgetattr(keep, &tio);
    cfmakeraw(&tio);
    tcsetattr(keep, TCSANOW, &tio);
    fcntl(g_master, F_SETFL, fcntl(g_master, F_GETFL) | O_NONBLOCK);
    signal(SIGPIPE, SIG_IGN);

    /* USART0 <-> pty */
    uint32_t f = 0;
    avr_ioctl(avr, AVR_IOCTL_UART_GET_FLAGS('0'), &f);
    f &= ~AVR_UART_FLAG_STDIO;
    avr_ioctl(avr, AVR_IOCTL_UART_SET_FLAGS('0'), &f);
    g_uart_in = avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_INPUT);
    avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_OUTPUT), on_uart_out,
                            NULL);
    avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_OUT_XON), on_xon, NULL);
    avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_OUT_XOFF), on_xoff, NULL);
    /* the axis: STEP PD4, DIR PD7; switches PB1 (low), PB2 (high) */
    avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_IOPORT_GETIRQ('D'), 4), on_step, NULL);
    avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_IOPORT_GETIRQ('D'), 7), on_dir, NULL);
    g_lo_pin = avr_io_getirq(avr, AVR_IOCTL_IOPORT_GETIRQ('B'), 1);
    g_hi_pin = avr_io_getirq(avr, AVR_IOCTL_IOPORT_GETIRQ('B'), 2);
    update_switches();

    int lfd = -1;
    if (control) {
        struct sockaddr_un addr;
        memset(&addr, 0, sizeof addr);
        addr.sun_family = AF_UNIX;
        strncpy(addr.sun_path, control, sizeof addr.sun_path - 1);
        unlink(control);
        lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
        if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof addr) || listen(lfd, 4)) {
            perror("focuscam-motor-avr: control socket");
            return 3;
        }
    }
    dprintf(out, "%s\n", slave);
    close(out);

    double t0 = now_s();
    unsigned long n = 0;
    for (;;) {
        int state = avr_run(avr);
        if (state == cpu_Done || state == cpu_Crashed) {
            fprintf(stderr, "focuscam-motor-avr: the firmware stopped (state %d)\n", state);
            return 3;
        }
        if (++n % 512 != 0) continue;
        /* feed input bytes while the UART's receive FIFO has room */
        if (g_in_pos == g_in_len) {
            g_in_pos = g_in_len = 0;
            ssize_t k = read(g_master, g_in, sizeof g_in);
            if (k > 0) g_in_len = (size_t)k;
        }
        while (g_xon && g_in_pos < g_in_len) avr_raise_irq(g_uart_in, g_in[g_in_pos++]);
        if (lfd >= 0 && n % 8192 == 0) serve_control(lfd, avr);
        if (realtime && n % 65536 == 0) {
            double ahead = (double)avr->cycle / avr->frequency - (now_s() - t0);
            if (ahead > 0.002) usleep((useconds_t)(ahead * 1e6));
        }
    }
}
