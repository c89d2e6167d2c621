// Trapezoidal motion planner producing step intervals in timer ticks (hal::TICK_HZ).
//
// Integer form of D. Austin's real-time stepper ramp ("Generate stepper-motor speed profiles
// in real time", 2005): while accelerating c_n = c_{n-1} - 2 c_{n-1} / (4n + 1), decelerating
// is the inverse, cruising keeps c_min = TICK_HZ / speed. Deceleration starts when the steps
// left are no more than the steps spent accelerating, so every move ends at low speed.
// Intervals are kept in 24.8 fixed point; one 32-bit division per step (cheap enough for the
// step interrupt of an ATmega328P at the 5000 steps/s maximum).
#pragma once
#include <stdint.h>

namespace motion {

constexpr uint16_t SPEED_MIN = 10, SPEED_MAX = 5000;            // steps/s
constexpr uint32_t ACCEL_MIN = 50, ACCEL_MAX = 100000;          // steps/s^2
constexpr uint16_t SPEED_DEFAULT = 800;
constexpr uint32_t ACCEL_DEFAULT = 4000;

class Planner {
  public:
    // speed in steps/s, accel in steps/s^2 (already range-checked by the caller).
    void configure(uint16_t speed, uint32_t accel);
    // Start a profile of `total` steps (> 0); returns the ticks until the first step.
    uint32_t start(uint32_t total);
    // Start a constant-speed run (homing); returns the ticks between steps.
    uint32_t start_constant(uint16_t speed);
    // After a step was taken: the ticks until the next one (valid while steps remain).
    uint32_t next();
    uint32_t taken() const { return taken_; }
    uint32_t total() const { return total_; }

  private:
    uint32_t c0_ = 0;    // first interval, 24.8 fixed point ticks
    uint32_t cmin_ = 0;  // cruise interval, 24.8 fixed point ticks
    uint32_t c_ = 0;     // current interval, 24.8 fixed point ticks
    uint32_t total_ = 0, taken_ = 0;
    int32_t n_ = 0;      // steps spent accelerating (= steps needed to stop)
    bool constant_ = false;
};

}  // namespace motion
