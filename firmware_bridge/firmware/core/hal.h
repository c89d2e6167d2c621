// Hardware abstraction: the few things the portable core needs from a target.
// Each target (AVR sketch, host simulator) implements these free functions; there are no
// virtual calls, so the same core links into the 8-bit firmware and the host build.
#pragma once
#include <stdint.h>

namespace hal {

// Step timing: the timer counts TICK_HZ ticks per second (AVR: Timer1, 16 MHz / 64).
constexpr uint32_t TICK_HZ = 250000UL;

void set_dir(bool positive);  // direction pin (called before the first step of a motion)
void step_pulse();            // one pulse on the step pin (>= 2 us high)
void set_enable(bool on);     // driver enable pin (A4988/DRV8825/TMC2209 EN is active low)
bool switch_lo();             // true while the low limit switch is pressed
bool switch_hi();             // true while the high limit switch is pressed
void serial_write(const char* data, uint8_t n);  // main context only; may block

// Step timer: after timer_start(t) the core's Controller::on_step() is called t ticks later,
// then again after each interval it returns, until it returns 0 or timer_stop() is called.
void timer_start(uint32_t ticks);
void timer_stop();

// Critical sections around state shared with interrupt handlers (no-ops on the host).
void irq_off();
void irq_on();

}  // namespace hal
