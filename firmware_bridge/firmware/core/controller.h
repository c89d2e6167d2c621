// The firmware's state machine: commands, limits, homing, enable, status and events.
//
// Contexts: rx_byte(), poll() run in the main loop; on_step() runs in the step-timer
// interrupt; realtime_stop() may run in the serial-receive interrupt. State shared with the
// interrupts is volatile and read/written in the main loop inside hal::irq_off()/irq_on().
#pragma once
#include <stdint.h>

#include "motion.h"
#include "protocol.h"

#ifndef FW_VERSION
#define FW_VERSION "1.1.0"
#endif
#ifndef FW_BUILD
#define FW_BUILD "dev"
#endif
#ifndef FW_TARGET
#define FW_TARGET "unknown"
#endif

namespace fw {

constexpr int32_t DEFAULT_LIMIT = 1000000000L;
constexpr uint32_t HOME_MAX_STEPS = 4000000UL;  // homing never seeks further than this
constexpr uint8_t PROTO_VERSION = 1;
// The host's sub-step remainder of a MOVE target, in 1/1000 steps (|aim| < 1000).
constexpr int16_t AIM_MAX = 999;

enum State : uint8_t { IDLE = 0, MOVING = 1, HOMING = 2, FAULT = 3 };

class Controller {
  public:
    // Reset every setting to its default and announce the boot with the banner.
    void boot();
    // Main loop: feed one received byte (0x18 is handled here too, if the target did not
    // already handle it in its receive interrupt).
    void rx_byte(uint8_t byte);
    // Main loop: send pending events (done, stopped, limit, homed, fault).
    void poll();
    // Any context: stop motion at once.
    void realtime_stop();
    // Step-timer interrupt: take one step; return the ticks until the next, 0 = finished.
    uint32_t on_step();

    // For targets and tests.
    State state() const { return (State)state_; }
    int32_t position();

  private:
    void handle_line();
    void execute(const proto::Command& c);
    void reply_err(uint16_t seq, proto::Err code, const char* text);
    void begin_ok(uint16_t seq);
    void send_reply(uint16_t seq, bool remember);
    void start_move(int32_t target, int16_t aim);
    void emit(const char* line, uint8_t n);
    bool busy() const { return state_ == MOVING || state_ == HOMING; }

    proto::LineAssembler in_;
    proto::Writer out_;
    char last_reply_[proto::MAX_OUT + 1] = {0};
    uint8_t last_len_ = 0;
    uint16_t last_seq_ = 0;  // 0 = none since boot

    motion::Planner planner_;
    uint16_t speed_ = motion::SPEED_DEFAULT;
    uint32_t accel_ = motion::ACCEL_DEFAULT;
    int32_t lo_ = -DEFAULT_LIMIT, hi_ = DEFAULT_LIMIT;
    bool enabled_ = true;
    bool homed_ = false;
    uint16_t mark_ = 0;  // host-chosen session mark; 0 after every boot

    // shared with interrupts
    volatile uint8_t state_ = IDLE;
    volatile int32_t pos_ = 0;
    volatile int32_t target_ = 0;
    // the host's commanded target = target_ + aim_/1000 steps; 0 whenever target_ is set other
    // than by MOVE <pos> <aim> (boot, MOVR, stop, limit, homing, ZERO)
    volatile int16_t aim_ = 0;
    volatile int8_t dir_ = 1;
    volatile uint8_t home_phase_ = 0;
    uint32_t home_max_ = HOME_MAX_STEPS;  // steps homing may seek before giving up  // 1 = seeking the switch, 2 = backing off
    volatile uint8_t events_ = 0;      // EV_* bits
    volatile uint8_t limit_hit_ = 0;   // 1 = lo, 2 = hi
    volatile int32_t event_pos_ = 0;
    volatile uint8_t fault_ = 0;
};

}  // namespace fw
